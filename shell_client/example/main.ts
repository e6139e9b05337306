// The example shell: node dist/example/main.js [--structure PATH] [--collateral N] [--from-seq N]
//   [--results N] [--seconds S]. Against `make run`'s services; Ctrl-C stops it (trading stays as it is).
import "reflect-metadata";

import { Logger } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import { join } from "node:path";
import { parseArgs } from "node:util";

import { AppModule } from "./app.module";
import { ShellService } from "./shell.service";

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      structure: { type: "string", default: join(__dirname, "..", "..", "example", "structure.json") },
      collateral: { type: "string", default: "1000" },
      "from-seq": { type: "string" },
      results: { type: "string" }, // stop after this many results
      seconds: { type: "string" }, // stop after this long
    },
  });
  const app = await NestFactory.createApplicationContext(AppModule);
  const logger = new Logger("Example");
  let stopping = false;
  const stop = async (why: string): Promise<void> => {
    if (stopping) {
      return;
    }
    stopping = true;
    logger.log(`stopping: ${why}`);
    await app.close();
  };
  process.once("SIGINT", () => void stop("SIGINT"));
  process.once("SIGTERM", () => void stop("SIGTERM"));
  if (values.seconds !== undefined) {
    setTimeout(() => void stop(`${values.seconds} s passed`), Number(values.seconds) * 1000).unref();
  }

  let seen = 0;
  const wanted = values.results === undefined ? Infinity : Number(values.results);
  try {
    await app.get(ShellService).start(
      { structurePath: values.structure, collateral: Number(values.collateral), fromSeq: values["from-seq"] },
      () => {
        if (++seen >= wanted) {
          void stop(`${seen} results`);
        }
      },
    );
  } catch (error) {
    logger.error(String(error));
    await stop("error");
    process.exitCode = 1;
  }
}

void main();
