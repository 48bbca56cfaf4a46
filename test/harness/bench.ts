#!/usr/bin/env tsx
// make bench: the proxy measured against the limit of its own binary (test/bench/bench.ts). Writes
// dist/bench.md and prints `bench: ours/limit=... ours/vendor-like=... cpu-us-per-request=...` last.
//   BENCH_SECONDS=10      length of each wrk run
//   BENCH_CONNECTIONS=8   concurrent client connections
//   BENCH_ROUNDS=3        interleaved runs per path (the median is reported)
//   BENCH_IDLE_SECONDS=60 the quiet interval of the idle cost, per health-check setting
import { main } from '../../scripts/lib/main.ts'
import { runBench } from '../bench/bench.ts'

await main(async () => {
  const { markdown, summary, file } = await runBench({
    seconds: Number(process.env.BENCH_SECONDS || 10),
    connections: Number(process.env.BENCH_CONNECTIONS || 8),
    rounds: Number(process.env.BENCH_ROUNDS || 3),
    idleSeconds: Number(process.env.BENCH_IDLE_SECONDS || 60),
  })
  console.log(`\n${markdown}\n(${file})\n${summary}`)
})
