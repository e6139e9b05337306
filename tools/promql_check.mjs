// Parses PromQL queries with Prometheus' own grammar (@prometheus-io/lezer-promql, the parser behind
// the Prometheus web UI's editor) and reports every query that does not parse.
//
// stdin: a JSON array of {"where": "...", "expr": "..."}; stdout: one line per query that failed,
// with where, the offset of the first error and the text around it, then "N queries parsed, M failed".
// Exit status 0 when all parsed, 1 when any failed, 2 on bad input. Used by tests/deploy/test_promql.py
// for the Grafana dashboard and the alert rules.
//
// Grafana expands its variables before a query reaches Prometheus; this does the same for the ones the
// dashboard uses: the interval macros ($__rate_interval ...) become a duration, and any other $name or
// ${name} (only ever inside label-matcher strings) becomes a regex that matches anything.
import { parser } from "@prometheus-io/lezer-promql";
import { readFileSync } from "node:fs";

function expandGrafanaVariables(expr) {
  return expr
    .replace(/\$__(rate_interval|interval|range)\b|\$\{__(rate_interval|interval|range)\}/g, "5m")
    .replace(/\$\{\w+\}|\$\w+/g, ".*");
}

function firstError(expr) {
  const tree = parser.parse(expr);
  let at = -1;
  tree.iterate({
    enter(node) {
      if (at >= 0) return false;
      if (node.type.isError) at = node.from;
      return undefined;
    },
  });
  return at;
}

function main() {
  let queries;
  try {
    queries = JSON.parse(readFileSync(0, "utf8"));
    if (!Array.isArray(queries)) throw new Error("expected a JSON array");
  } catch (err) {
    console.error(`promql_check: bad input: ${err.message}`);
    process.exit(2);
  }
  let failed = 0;
  for (const { where, expr } of queries) {
    const text = expandGrafanaVariables(String(expr ?? ""));
    const at = text.trim() === "" ? 0 : firstError(text);
    if (at >= 0) {
      failed += 1;
      const around = text.slice(Math.max(0, at - 30), at + 30).replace(/\s+/g, " ");
      console.log(`${where}: does not parse at offset ${at}: ...${around}...`);
    }
  }
  console.log(`${queries.length} queries checked, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main();
