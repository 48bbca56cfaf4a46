// make bench: what the proxy costs. On loopback, with wrk and a FIXTURE intake (Node https), the same
// agent-like POSTs go (a) straight to the intake over TLS, (b) through our proxy (the packaged one,
// unmodified example config) over plain HTTP, (c) through the same HAProxy on a config modelled on
// the vendor's public header. Two client behaviours: keep-alive (an agent between flushes) and
// Connection: close (a TLS handshake upstream per request). Per run: requests/s, latency, the
// proxy's CPU time and the upstream handshakes per request. Also the proxy's memory and the time of
// a warm `make packages`. Results in dist/bench.md; the last line printed is the summary.
import { execSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { $ } from 'zx'
import { formatDuration, Progress } from '../../scripts/lib/exec.ts'
import { distDir, repoRoot } from '../../scripts/lib/paths.ts'
import { loadProduct, type Product } from '../../scripts/lib/product.ts'
import { type RunningIntake } from '../fixtures/intake.ts'
import { FixturePki } from '../fixtures/pki.ts'
import { RelayLab, upstreamHosts } from '../helpers/relay-lab.ts'
import { vendorLikeConfig } from './vendor-config.ts'

export interface BenchOptions {
  seconds: number
  connections: number
  // runs per path, interleaved (direct, ours, vendor, direct, ...) so that a noisy neighbour
  // hits all paths alike; the table shows the median run of each path
  rounds: number
}

interface WrkResult {
  rps: number
  p50ms: number
  p99ms: number
  requests: number
  errors: string
}

interface Run extends WrkResult {
  // upstream TLS handshakes per request, as the intake counted them
  handshakesPerRequest: number
  // the proxy's CPU time per request (none for the direct path)
  cpuUsPerRequest?: number
}

interface Row {
  path: 'direct' | 'ours' | 'vendor-config'
  workload: Workload
  result: Run
}

// Connection: close also closes the proxy's upstream connection, so the second workload costs one
// upstream TLS handshake per request: the price of an agent that reconnects for every payload.
type Workload = 'keep-alive' | 'Connection: close'
const WORKLOADS: Workload[] = ['keep-alive', 'Connection: close']

// A metrics payload of the size an agent flush carries for a small host (about 4 KB of series JSON).
function agentPayload(): string {
  const series = Array.from({ length: 24 }, (_, i) => ({
    metric: `system.fixture.metric_${i}`,
    points: [[1764000000, i * 1.5]],
    tags: ['env:bench', `host:fixture-${i % 3}`, 'source:fixture'],
    host: 'fixture-host',
    type: 'gauge',
    interval: 15,
  }))
  return JSON.stringify({ series })
}

function wrkScript(dir: string, workload: Workload): string {
  const file = path.join(dir, `${workload.replace(/\W+/g, '-')}.lua`)
  writeFileSync(file, [
    'wrk.method = "POST"',
    `wrk.body = [==[${agentPayload()}]==]`,
    'wrk.headers["Content-Type"] = "application/json"',
    ...(workload === 'keep-alive' ? [] : ['wrk.headers["Connection"] = "close"']),
    '',
  ].join('\n'))
  return file
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 }

function parseWrk(out: string): WrkResult {
  const latency = (pct: string) => {
    const m = new RegExp(`^\\s*${pct}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(out)
    if (!m) throw new Error(`wrk printed no ${pct}% latency:\n${out}`)
    return Number(m[1]) * UNIT_MS[m[2]]
  }
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(out)
  const requests = /^\s*(\d+) requests in/m.exec(out)
  if (!rps || !requests) throw new Error(`unexpected wrk output:\n${out}`)
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out)
  if (non2xx) throw new Error(`${non2xx[1]} requests failed: the numbers would not measure relaying.\n${out}`)
  return { rps: Number(rps[1]), p50ms: latency('50'), p99ms: latency('99'), requests: Number(requests[1]), errors: /Socket errors: .*/.exec(out)?.[0] ?? '' }
}

async function wrk(url: string, script: string, opts: BenchOptions, seconds = opts.seconds): Promise<WrkResult> {
  const out = await $({ quiet: true })`wrk -t1 -c${opts.connections} -d${seconds}s --latency -s ${script} ${url}`
  return parseWrk(out.stdout)
}

// The run with the median requests/s.
function median(results: Run[]): Run {
  return [...results].sort((x, y) => x.rps - y.rps)[Math.floor(results.length / 2)]
}

// One measured run: wrk, plus what the intake and the proxy's CPU counters saw meanwhile.
async function measure(url: string, script: string, opts: BenchOptions, intake: RunningIntake, proxy?: RelayLab): Promise<Run> {
  const before = { requests: intake.requests, connections: intake.connections, cpu: await proxy?.cpuMs() }
  const result = await wrk(url, script, opts)
  const requests = intake.requests - before.requests
  const cpu = proxy && before.cpu !== undefined ? ((await proxy.cpuMs()) - before.cpu) * 1000 / requests : undefined
  return { ...result, handshakesPerRequest: (intake.connections - before.connections) / requests, cpuUsPerRequest: cpu }
}

function machine(): string {
  const cpu = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? os.arch()
  return `${os.cpus().length} x ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()}`
}

const fmt = (n: number, digits = 2) => n.toFixed(digits)

function report(rows: Row[], extra: { machine: string; packagesWarm: string; rss: number; opts: BenchOptions; version: string }): { markdown: string; summary: string } {
  const get = (p: Row['path'], w: Workload) => rows.find((r) => r.path === p && r.workload === w)!.result
  const lines = [
    `# make bench: ${extra.version}`,
    '',
    `Machine: ${extra.machine}. wrk -t1 -c${extra.opts.connections}, ${extra.opts.seconds} s per run, median of ${extra.opts.rounds} interleaved runs,`,
    `agent-like POST of ${agentPayload().length} bytes of JSON,`,
    'everything on loopback (wrk, proxy and the FIXTURE Node intake share the CPUs).',
    '',
    '| workload | path | requests/s | p50 ms | p99 ms | proxy CPU µs/request | upstream TLS handshakes/request | requests | socket errors |',
    '|---|---|---:|---:|---:|---:|---:|---:|---|',
    ...rows.map((r) => `| ${r.workload} | ${r.path} | ${fmt(r.result.rps, 0)} | ${fmt(r.result.p50ms)} | ${fmt(r.result.p99ms)} | ${r.result.cpuUsPerRequest === undefined ? '—' : fmt(r.result.cpuUsPerRequest, 0)} | ${fmt(r.result.handshakesPerRequest, 3)} | ${r.result.requests} | ${r.result.errors || 'none'} |`),
    '',
    ...WORKLOADS.map((w) => `- ${w}: via-proxy/direct = ${fmt(get('ours', w).rps / get('direct', w).rps)}, ours/vendor-config = ${fmt(get('ours', w).rps / get('vendor-config', w).rps)} (requests/s)`),
    ...WORKLOADS.map((w) => `- ${w}: proxy CPU per request, ours/vendor-config = ${fmt(get('ours', w).cpuUsPerRequest! / get('vendor-config', w).cpuUsPerRequest!)}`),
    `- proxy RSS (master + worker, after the runs): ${fmt(extra.rss, 1)} MB`,
    `- warm \`make packages\`: ${extra.packagesWarm}`,
    '',
  ]
  const headline = WORKLOADS[0]
  const summary = `bench: via-proxy/direct=${fmt(get('ours', headline).rps / get('direct', headline).rps)} ours/vendor-config=${fmt(get('ours', headline).rps / get('vendor-config', headline).rps)} proxy-rss-mb=${fmt(extra.rss, 1)}`
  return { markdown: lines.join('\n'), summary }
}

export async function runBench(opts: BenchOptions): Promise<{ markdown: string; summary: string; file: string }> {
  const product: Product = loadProduct()
  const progress = new Progress('bench')
  const packagesStarted = Date.now()
  await progress.step('warm make packages', () => execSync('make --no-print-directory packages', { cwd: repoRoot, stdio: 'ignore' }))
  const packagesWarm = formatDuration(Date.now() - packagesStarted)

  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-'))
  const pki = await FixturePki.create(path.join(dir, 'pki'))
  const cert = await pki.leaf('intake', { hosts: upstreamHosts(product) })
  const caBundle = product.packages.find((f) => f.kind === 'deb')!.caBundle
  const vendorCfg = path.join(dir, 'vendor-like.cfg')
  writeFileSync(vendorCfg, vendorLikeConfig(product, caBundle))
  const intake = { cert, keepRecords: false }
  const labs = {
    ours: await RelayLab.start(product, { id: 101, intake, ca: pki.ca, caBundle }),
    'vendor-config': await RelayLab.start(product, { id: 102, intake, ca: pki.ca, caBundle, config: vendorCfg }),
  }
  try {
    await Promise.all(Object.values(labs).map((l) => l.waitForResolution()))
    const metrics = labs.ours.port('metrics')
    const urls: Record<Row['path'], string> = {
      direct: `https://${labs.ours.intake!.address}:${labs.ours.intake!.port}/api/v2/series`,
      ours: `http://${labs.ours.address}:${metrics}/api/v2/series`,
      'vendor-config': `http://${labs['vendor-config'].address}:${metrics}/api/v2/series`,
    }
    const rows: Row[] = []
    for (const workload of WORKLOADS) {
      const script = wrkScript(dir, workload)
      const runs = new Map<Row['path'], Run[]>()
      for (let round = 1; round <= opts.rounds; round++) {
        for (const p of Object.keys(urls) as Row['path'][]) {
          await wrk(urls[p], script, opts, 1) // warm-up: connections, TLS sessions, JIT
          const lab = p === 'direct' ? labs.ours : labs[p]
          const result = await progress.step(`${workload}, ${p}, round ${round}`, () => measure(urls[p], script, opts, lab.intake!, p === 'direct' ? undefined : lab))
          runs.set(p, [...(runs.get(p) ?? []), result])
        }
      }
      for (const [p, results] of runs) rows.push({ path: p, workload, result: median(results) })
    }
    const rss = await labs.ours.rssMb()
    const { markdown, summary } = report(rows, { machine: machine(), packagesWarm, rss, opts, version: `${product.name} ${product.version}` })
    mkdirSync(distDir, { recursive: true })
    const file = path.join(distDir, 'bench.md')
    writeFileSync(file, `${markdown}\n${summary}\n`)
    return { markdown, summary, file }
  } finally {
    await Promise.all(Object.values(labs).map((l) => l.close()))
  }
}
