import { Module } from "@nestjs/common";

import { PolyarbModule } from "../src";
import { ShellService } from "./shell.service";

/** In the shell: `import { PolyarbModule } from "@polyarb/shell-client"`. */
@Module({
  imports: [
    PolyarbModule.forRootAsync({
      useFactory: () => ({
        engineUrl: process.env.POLYARB_ENGINE_URL ?? "127.0.0.1:50052",
        executorUrl: process.env.POLYARB_EXECUTOR_URL ?? "127.0.0.1:50053",
        token: process.env.POLYARB_CONTROL_TOKEN, // unset: the services run without a token (make run)
      }),
    }),
  ],
  providers: [ShellService],
})
export class AppModule {}
