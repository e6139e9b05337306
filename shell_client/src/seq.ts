/**
 * Trade-result sequence numbers are uint64 on the wire and decimal strings in JavaScript (longs: String).
 * Compare them as bigint: as numbers they lose precision past 2^53, as strings "10" < "9".
 */
export type Seq = string | bigint;

const DECIMAL = /^[0-9]+$/;
const UINT64_MAX = (1n << 64n) - 1n;

/** A sequence number as bigint; throws a TypeError on anything but a uint64 (string digits or bigint). */
export function toSeq(value: Seq): bigint {
  const seq = typeof value === "bigint" ? value : DECIMAL.test(value) ? BigInt(value) : -1n;
  if (seq < 0n || seq > UINT64_MAX) {
    throw new TypeError(`not a sequence number (uint64 as decimal string or bigint): ${String(value)}`);
  }
  return seq;
}
