// Shared test data and a Nest application context around PolyarbModule.
import "reflect-metadata";

import { INestApplicationContext } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import { ClientGrpc } from "@nestjs/microservices";
import { Subject } from "rxjs";

import {
  EXECUTOR_SERVICE_NAME,
  ExecutorClient,
  Market,
  MarketStructure,
  POLYARB_EXECUTOR_CLIENT,
  PolyarbClient,
  PolyarbModule,
  PolyarbModuleOptions,
  Side,
  Signal,
  SignalAck,
  Strategy,
} from "../src";

export interface Shell {
  app: INestApplicationContext;
  client: PolyarbClient;
}

/** What the NestJS shell does: import PolyarbModule, get PolyarbClient. */
export async function startShell(options: PolyarbModuleOptions): Promise<Shell> {
  const app = await NestFactory.createApplicationContext(PolyarbModule.forRoot(options), {
    logger: process.env.POLYARB_TEST_VERBOSE ? ["log", "warn", "error"] : ["error"],
  });
  return { app, client: app.get(PolyarbClient) };
}

/** A binary market whose ids are made of one digit (77-digit token ids, like the real ERC-1155 ids). */
function market(digit: string): Market {
  return {
    conditionId: `0x${digit.repeat(64)}`,
    yesTokenId: `${digit.repeat(76)}1`,
    noTokenId: `${digit.repeat(76)}2`,
    tickSize: 0.01,
    minOrderSize: 5,
    negRisk: false,
    feeRateBps: 0,
  };
}

/** One trio: "above 100", "above 110", "(100, 110]". */
export function trioStructure(version: string, lowerBound = 100, upperBound = 110): MarketStructure {
  return {
    version,
    trios: [{ id: "btc-100-110", lower: market("1"), upper: market("2"), range: market("3"), lowerBound, upperBound }],
    sets: [],
  };
}

const LEG_TOKENS = ["4".repeat(77), "5".repeat(77), "6".repeat(77)];

/** A trio signal the dry-run executor turns into a DRY_RUN trade result (given trading and a balance). */
export function signal(name: string): Signal {
  return {
    signalId: `sig-${name}`,
    instanceId: `trio-${name}`,
    strategy: Strategy.STRATEGY_TRIO,
    legs: LEG_TOKENS.map((tokenId) => ({
      tokenId,
      side: Side.SIDE_BUY,
      price: 0.6,
      size: 5,
      tickSize: 0.01,
      minOrderSize: 5,
      negRisk: false,
      feeRateBps: 0,
    })),
    payout: 2,
    expectedProfit: 0.2,
    minProfitAbs: 0.01,
    trace: {
      wsRecvNs: "0",
      ingestSentNs: "0",
      engineRecvNs: "0",
      signalSentNs: (BigInt(Date.now()) * 1_000_000n).toString(),
      executorRecvNs: "0",
      signedNs: "0",
      postedNs: "0",
      responseNs: "0",
    },
  };
}

/**
 * Plays the engine: sends signals on Executor.ExecuteSignals (through the module's raw ClientGrpc) and
 * resolves with the seqs of the results the executor journaled for them (acks with done=true).
 * Resolves early, with what it has, when the stream fails (the executor was killed).
 */
export function produceResults(app: INestApplicationContext, names: string[]): Promise<string[]> {
  const executor = app.get<ClientGrpc>(POLYARB_EXECUTOR_CLIENT).getService<ExecutorClient>(EXECUTOR_SERVICE_NAME);
  const signals = new Subject<Signal>();
  const seqs: string[] = [];
  return new Promise((resolve, reject) => {
    const subscription = executor.executeSignals(signals.asObservable()).subscribe({
      next: (ack: SignalAck) => {
        if (!ack.done && !ack.accepted) {
          reject(new Error(`signal ${ack.signalId} denied: ${ack.reason}`));
        }
        if (ack.done) {
          seqs.push(ack.resultSeq);
          if (seqs.length === names.length) {
            subscription.unsubscribe();
            resolve(seqs);
          }
        }
      },
      error: () => resolve(seqs),
      complete: () => resolve(seqs),
    });
    for (const name of names) {
      signals.next(signal(name));
    }
  });
}

/** Polls until check() is true; fails with what() after timeoutMs. */
export async function eventually(check: () => boolean, what: () => string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms: ${what()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
