import { Injectable, Logger, OnModuleDestroy } from "@nestjs/common";
import { readFile } from "node:fs/promises";
import { Subscription } from "rxjs";

import { PolyarbClient, TradeResult } from "../src";
import { marketStructureFromJson } from "./structure";

export interface ExampleSettings {
  structurePath: string;
  collateral: number;
  /** Results after this seq; undefined: only new ones (from the executor's last seq). */
  fromSeq: string | undefined;
}

/** What the shell does with polyarb: push a structure, fund and enable the executor, watch the results. */
@Injectable()
export class ShellService implements OnModuleDestroy {
  private readonly logger = new Logger("Shell");
  private subscription: Subscription | undefined;

  constructor(private readonly polyarb: PolyarbClient) {}

  async start(settings: ExampleSettings, onResult: (result: TradeResult) => void): Promise<void> {
    const structure = marketStructureFromJson(JSON.parse(await readFile(settings.structurePath, "utf8")));
    const applied = await this.polyarb.updateMarketStructure(structure);
    this.logger.log(`structure v${applied.version}: ${applied.instances} instances, ${applied.tokens} tokens`);

    const balance = await this.polyarb.updateBalance({ collateral: settings.collateral, inventory: {} });
    this.logger.log(`executor collateral ${balance.collateral} pUSD`);
    const trading = await this.polyarb.setTradingEnabled({ enabled: true, reason: "shell example" });
    this.logger.log(`trading ${trading.enabled ? "enabled" : "disabled"} (mode ${trading.mode})`);

    const fromSeq = settings.fromSeq ?? (await this.polyarb.getExecutorStatus()).lastSeq;
    this.logger.log(`trade results after seq ${fromSeq}:`);
    this.subscription = this.polyarb.tradeResults$(fromSeq).subscribe({
      next: (result) => {
        this.logger.log(describe(result));
        onResult(result);
      },
      error: (error: unknown) => this.logger.error(`trade-result stream failed: ${String(error)}`),
    });
  }

  /** Trading stays as it is: the executor trades on its own, the shell only steers it. */
  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
  }
}

function describe(r: TradeResult): string {
  const legs = r.legs.map((leg) => `${leg.side === "SIDE_BUY" ? "buy" : "sell"} ${leg.size}@${leg.price}`).join(", ");
  const sentNs = BigInt(r.trace?.signalSentNs ?? "0");
  const recordedNs = BigInt(r.recordedNs);
  const latency = sentNs > 0n && recordedNs > sentNs ? ` signal->journal ${Number(recordedNs - sentNs) / 1e6} ms` : "";
  return (
    `#${r.seq} ${r.outcome} ${r.strategy} ${r.instanceId} [${legs}] cost ${r.cost.toFixed(4)} ` +
    `expected pnl ${r.expectedPnl.toFixed(4)}${r.error ? ` error ${r.error}` : ""}${latency}`
  );
}
