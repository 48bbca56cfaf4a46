#!/usr/bin/env tsx
// make bench: requests/s and latency straight to a fixture intake, through our proxy and through a
// vendor-like config; the proxy's memory; a warm `make packages`. Writes dist/bench.md and prints
// `bench: via-proxy/direct=... ours/vendor-config=... proxy-rss-mb=...` last.
//   BENCH_SECONDS=10      length of each wrk run
//   BENCH_CONNECTIONS=8   concurrent client connections
//   BENCH_ROUNDS=3        interleaved runs per path (the median is reported)
import { main } from './lib/main.ts'
import { runBench } from '../test/bench/bench.ts'

await main(async () => {
  const { markdown, summary, file } = await runBench({
    seconds: Number(process.env.BENCH_SECONDS || 10),
    connections: Number(process.env.BENCH_CONNECTIONS || 8),
    rounds: Number(process.env.BENCH_ROUNDS || 3),
  })
  console.log(`\n${markdown}\n(${file})\n${summary}`)
})
