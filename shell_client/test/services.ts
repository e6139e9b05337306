// The one way these tests start a real polyarb service: `python -m <module>` from the repository's .venv,
// ports chosen by the service (0) and read from its "serving" log line, killed when the test ends.
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { createInterface } from "node:readline";

export const REPO_ROOT = join(__dirname, "..", "..", "..");
const PYTHON = process.env.POLYARB_TEST_PYTHON ?? join(REPO_ROOT, ".venv", "bin", "python");

export interface ServiceOptions {
  /** Control token (POLYARB_CONTROL_TOKEN); none: the service runs open. */
  token?: string;
  /** HOST:PORT to listen on; default 127.0.0.1:0 (any free port). */
  grpcAddr?: string;
}

export class Service {
  readonly lines: string[] = [];
  grpcAddr = "";

  private constructor(
    readonly module: string,
    readonly proc: ChildProcess,
  ) {}

  static async start(module: string, args: string[], options: ServiceOptions = {}): Promise<Service> {
    // a developer's POLYARB_* variables must not leak into the services under test
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("POLYARB_")));
    if (options.token !== undefined) {
      env.POLYARB_CONTROL_TOKEN = options.token;
    }
    const argv = ["-m", module, "--grpc-addr", options.grpcAddr ?? "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", ...args];
    const proc = spawn(PYTHON, argv, { cwd: REPO_ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    const service = new Service(module, proc);
    live.add(service);
    proc.once("exit", () => live.delete(service));
    await service.waitServing(30_000);
    return service;
  }

  /** Stops (SIGTERM) every service still running: an `after` hook, so a failed start leaves nothing behind. */
  static async stopAll(): Promise<void> {
    await Promise.all([...live].map((service) => service.stop()));
  }

  get port(): number {
    return Number(this.grpcAddr.slice(this.grpcAddr.lastIndexOf(":") + 1));
  }

  /** SIGKILL: no drain, no close. */
  async kill(): Promise<void> {
    await this.signal("SIGKILL");
  }

  /** SIGTERM: graceful stop (health NOT_SERVING, drain). */
  async stop(): Promise<void> {
    await this.signal("SIGTERM");
  }

  output(): string {
    return this.lines.join("\n");
  }

  /** A field of the service's "serving" log line, e.g. the paper venue's "http_addr". */
  servingField(key: string): string {
    for (const line of this.lines) {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (entry.msg === "serving" && typeof entry[key] === "string") {
          return entry[key] as string;
        }
      } catch {
        // not a JSON log line
      }
    }
    throw new Error(`${this.module}: no ${key} in its serving line:\n${this.output()}`);
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
      return;
    }
    const exited = once(this.proc, "exit");
    this.proc.kill(sig);
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), 15_000);
    await exited;
    clearTimeout(timer);
  }

  private waitServing(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.proc.kill("SIGKILL");
        reject(new Error(`${this.module} not serving after ${timeoutMs} ms:\n${this.output()}`));
      }, timeoutMs);
      const onLine = (line: string): void => {
        this.lines.push(line);
        if (this.grpcAddr !== "") {
          return;
        }
        try {
          const entry = JSON.parse(line) as { msg?: unknown; grpc_addr?: unknown };
          if (entry.msg === "serving" && typeof entry.grpc_addr === "string") {
            this.grpcAddr = entry.grpc_addr;
            clearTimeout(timer);
            resolve();
          }
        } catch {
          // not a JSON log line (a traceback, a warning): kept in lines
        }
      };
      for (const stream of [this.proc.stdout, this.proc.stderr]) {
        if (stream !== null) {
          createInterface({ input: stream }).on("line", onLine);
        }
      }
      this.proc.once("exit", (code, sig) => {
        clearTimeout(timer);
        if (this.grpcAddr === "") {
          reject(new Error(`${this.module} exited (${code ?? sig}) before serving:\n${this.output()}`));
        }
      });
      this.proc.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }
}

const live = new Set<Service>();
// a failing test must not leave services behind
process.on("exit", () => {
  for (const service of live) {
    service.proc.kill("SIGKILL");
  }
});

/** A fresh temporary folder (for journals), removed with removeTempDirs(). */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "polyarb-shell-client-"));
  dirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of dirs.splice(0)) {
    rmSync(dir, { recursive: true, force: true });
  }
}

const dirs: string[] = [];

export interface Pki {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  strangerCert: string;
  strangerKey: string;
}

/** A CA, a server certificate (127.0.0.1, localhost) and a client certificate, made by the Python tests'
 * tests/pki.py into a fresh temporary folder: one way to make test certificates for both suites. */
export function makePki(): Pki {
  const dir = tempDir();
  execFileSync(PYTHON, ["-c", "import pathlib, sys; from tests.pki import make_pki; make_pki(pathlib.Path(sys.argv[1]))", dir], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "ignore", "inherit"],
  });
  const at = (name: string): string => join(dir, name);
  return {
    ca: at("ca.pem"),
    serverCert: at("server.pem"),
    serverKey: at("server-key.pem"),
    clientCert: at("client.pem"),
    clientKey: at("client-key.pem"),
    strangerCert: at("stranger.pem"),
    strangerKey: at("stranger-key.pem"),
  };
}
