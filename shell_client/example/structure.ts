import type { MarketStructure } from "../src";

/**
 * A MarketStructure from proto3 JSON, as the paper venue serves it (GET /admin/structure) and as
 * structure.json holds it: original field names (snake_case), uint64 as a number or a string.
 * The gRPC client wants ts-proto's camelCase names: protobufjs ignores keys it does not know, so a
 * snake_case object would arrive as an empty structure.
 */
export function marketStructureFromJson(json: unknown): MarketStructure {
  const structure = camelKeys(json) as MarketStructure;
  if (!Array.isArray(structure.trios) && !Array.isArray(structure.sets)) {
    throw new Error("not a MarketStructure: no trios and no sets");
  }
  return { ...structure, version: String(structure.version ?? 0), trios: structure.trios ?? [], sets: structure.sets ?? [] };
}

function camelKeys(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(camelKeys);
  }
  if (value !== null && typeof value === "object") {
    const camel = (key: string) => key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [camel(key), camelKeys(inner)]));
  }
  return value;
}
