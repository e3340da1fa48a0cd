// Summarise peer-benchmark results as a Markdown table: min / median / max per figure.
//   node scripts/peers/summarize.mjs              # every ${PEERS_WORK:-/tmp/pad-peers}/*/results/*.jsonl
//   node scripts/peers/summarize.mjs FILE.jsonl   # just these runs (pad-cli bench --json lines too)
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { join } from "node:path";

let files = process.argv.slice(2);
if (!files.length) {
  for (const sys of ["nats", "etcd"]) {
    const d = join(process.env.PEERS_WORK || "/tmp/pad-peers", sys, "results");
    if (existsSync(d)) files.push(...readdirSync(d).filter((f) => f.endsWith(".jsonl")).sort().map((f) => join(d, f)));
  }
}
const rows = [];
for (const f of files) {
  for (const line of readFileSync(f, "utf8").split("\n")) {
    if (!line.trim()) continue;
    try { rows.push(JSON.parse(line)); } catch { /* skip partial line */ }
  }
}
const groups = new Map();
for (const r of rows) {
  if (!r.system) continue; // setup lines
  const key = `${r.system}|${r.phase}|R${r.replicas}`;
  if (!groups.has(key)) groups.set(key, []);
  groups.get(key).push(r);
}
const stat = (xs) => {
  const v = xs.filter((x) => typeof x === "number").sort((a, b) => a - b);
  if (!v.length) return "n/a";
  const med = v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  const f = (x) => (Math.abs(x) >= 100 ? Math.round(x).toString() : x.toFixed(x >= 10 ? 1 : 2));
  return `${f(v[0])} / ${f(med)} / ${f(v[v.length - 1])}`;
};
const runs = new Set(rows.map((r) => r.run).filter(Boolean));
console.log(`${rows.length} result lines from ${files.length} file(s), ${runs.size} run(s)\n`);
console.log("| system | phase | replicas | reps | msgs/s (min / median / max) | ack p50 ms | ack p99 ms | client CPU s | failover gap s |");
console.log("|---|---|---|---|---|---|---|---|---|");
for (const [key, rs] of [...groups.entries()].sort()) {
  const [system, phase, rep] = key.split("|");
  const isFail = phase === "failover";
  const bad = rs.filter((r) => (r.errors && !isFail) || r.capped || r.acked_all_stored === false).length;
  console.log(`| ${system} | ${phase} | ${rep} | ${rs.length}${bad ? ` (${bad} capped/errors/loss)` : ""} | ` +
    (isFail ? "– | – | – | – | " : `${stat(rs.map((r) => r.msgs_per_s))} | ${stat(rs.map((r) => r.p50_ms))} | ${stat(rs.map((r) => r.p99_ms))} | ${stat(rs.map((r) => r.client_cpu_s))} | `) +
    (isFail ? `${stat(rs.map((r) => r.gap_s))} |` : "– |"));
}
