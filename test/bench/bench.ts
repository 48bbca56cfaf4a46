// make bench: what the proxy costs, measured against the limit of its own binary. On loopback, an
// intake that is not the bottleneck (test/fixtures/haproxy-intake.ts: the package's HAProxy
// terminating TLS, answering 202) and wrk send the same agent-like POSTs
//   direct        wrk -> the intake over TLS
//   limit         wrk -> the same HAProxy build on a minimal relay config (limit-config.ts) -> intake
//   ours          wrk -> the shipped example config -> intake
//   vendor-like   wrk -> a config modelled on the vendor's public header (vendor-config.ts) -> intake
// for two client behaviours (keep-alive, and Connection: close: a new client connection per request,
// an upstream TLS handshake each unless the proxy reuses an idle upstream connection), in interleaved rounds (medians). The proxy runs alone on CPU 0; wrk and the intake
// share CPU 1 (when the machine has two). Then, with one connection, the latency the proxy adds
// (ours minus direct), and per health-check setting, with every upstream host resolving to four
// addresses as the intake's do, the proxy's idle cost over a quiet interval and its failover under
// agent-like traffic (intake killed until 503 and until the backend is marked down, intake back until
// 202). dist/bench.md; the last line is the summary.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { $ } from 'zx'
import { Progress } from '../../scripts/lib/exec.ts'
import { HEALTH_CHECKS } from '../../scripts/lib/haproxy-config.ts'
import { distDir } from '../../scripts/lib/paths.ts'
import { exampleConfig, loadProduct, type Product } from '../../scripts/lib/product.ts'
import { HaproxyIntake } from '../fixtures/haproxy-intake.ts'
import { FixturePki } from '../fixtures/pki.ts'
import { RelayLab, sendRequest, unpackedPackage, upstreamHosts } from '../helpers/relay-lab.ts'
import { limitConfig } from './limit-config.ts'
import { vendorLikeConfig } from './vendor-config.ts'

export interface BenchOptions {
  seconds: number
  connections: number
  rounds: number
  // the quiet interval over which the idle cost is measured
  idleSeconds: number
}

type PathName = 'direct' | 'limit' | 'ours' | 'vendor-like'
const PROXIED: Exclude<PathName, 'direct'>[] = ['limit', 'ours', 'vendor-like']
type Workload = 'keep-alive' | 'Connection: close'
const WORKLOADS: Workload[] = ['keep-alive', 'Connection: close']

// The health-check settings compared: the one shipped before the last measurement, and the shipped one.
const HEALTH_SETTINGS: Record<string, string> = {
  'before (inter 60s)': 'check inter 60s fastinter 2s downinter 2s fall 3 rise 2 observe layer4 error-limit 3 on-error fastinter',
  shipped: HEALTH_CHECKS,
}
// The addresses an intake host resolves to (the US1-FED intake names: four each), so as many servers
// per backend; the health measures run with all of them, the load runs with the first.
const INTAKE_ADDRESSES = ['127.77.100.10', '127.77.100.11', '127.77.100.12', '127.77.100.13']

interface WrkResult { rps: number; p50ms: number; p99ms: number; requests: number; errors: string }
interface Run extends WrkResult { handshakesPerRequest: number; cpuUsPerRequest?: number }

// A metrics payload of the size an agent flush carries for a small host (about 4 KB of series JSON).
function agentPayload(): string {
  const series = Array.from({ length: 24 }, (_, i) => ({
    metric: `system.fixture.metric_${i}`, points: [[1764000000, i * 1.5]], tags: ['env:bench', `host:fixture-${i % 3}`, 'source:fixture'],
    host: 'fixture-host', type: 'gauge', interval: 15,
  }))
  return JSON.stringify({ series })
}

function wrkScript(dir: string, workload: Workload): string {
  const file = path.join(dir, `${workload.replace(/\W+/g, '-')}.lua`)
  writeFileSync(file, ['wrk.method = "POST"', `wrk.body = [==[${agentPayload()}]==]`, 'wrk.headers["Content-Type"] = "application/json"',
    ...(workload === 'keep-alive' ? [] : ['wrk.headers["Connection"] = "close"']), ''].join('\n'))
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

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const medianRun = (runs: Run[]) => [...runs].sort((x, y) => x.rps - y.rps)[Math.floor(runs.length / 2)]
const fmt = (n: number, digits = 2) => n.toFixed(digits)

class Bench {
  readonly pinned = os.cpus().length >= 2
  readonly progress = new Progress('bench')
  constructor(readonly product: Product, readonly opts: BenchOptions, readonly dir: string, readonly intake: HaproxyIntake) {}

  async wrk(url: string, script: string, connections: number, seconds: number): Promise<WrkResult> {
    const pin = this.pinned ? ['taskset', '-c', '1'] : []
    return parseWrk((await $({ quiet: true })`${pin} wrk -t1 -c${connections} -d${seconds}s --latency -s ${script} ${url}`).stdout)
  }

  // One run: wrk, plus what the intake and the proxy's CPU counters saw meanwhile.
  async measure(url: string, script: string, lab?: RelayLab): Promise<Run> {
    const before = { ...(await this.intake.counters()), cpu: await lab?.cpuMs() }
    const result = await this.wrk(url, script, this.opts.connections, this.opts.seconds)
    const after = await this.intake.counters()
    const requests = after.requests - before.requests
    const cpu = lab && before.cpu !== undefined ? ((await lab.cpuMs()) - before.cpu) * 1000 / requests : undefined
    // A ratio above 1 where it cannot be is a measurement bug: the intake must have seen every request.
    // (Requests in flight at either end of the window: up to one per connection on each leg.)
    if (Math.abs(requests - result.requests) > Math.max(4 * this.opts.connections, result.requests / 1000)) throw new Error(`wrk counted ${result.requests} requests, the intake ${requests}`)
    return { ...result, handshakesPerRequest: (after.connections - before.connections) / requests, cpuUsPerRequest: cpu }
  }
}

// Starts a lab of `config` (a file; undefined: the shipped example) in front of the intake, its
// upstream hosts resolving to `addresses` (the intake's first address unless given).
async function lab(b: Bench, id: number, ca: string, caBundle: string, config?: string, addresses = [b.intake.address]): Promise<RelayLab> {
  const l = await RelayLab.start(b.product, { id, intake: { external: addresses }, ca, caBundle, config, cpus: b.pinned ? '0' : undefined })
  await l.waitForResolution()
  return l
}

// Waits until the intake has seen no new connection for `quietMs`: a setting's start-up checks are
// over and the quiet interval measures its steady state. The intake's connection count then.
async function settled(intake: HaproxyIntake, quietMs = 2000, limitMs = 120_000): Promise<number> {
  let last = (await intake.counters()).connections
  for (let since = Date.now(), deadline = Date.now() + limitMs; Date.now() - since < quietMs; await sleep(200)) {
    if (Date.now() > deadline) throw new Error(`the health checks did not settle within ${limitMs} ms`)
    const now = (await intake.counters()).connections
    if (now !== last) [last, since] = [now, Date.now()]
  }
  return last
}

// Agent-like traffic on the metrics port while the intake fails and returns: one request at a time,
// 50 ms apart, each answer's status and when it came (0: no answer).
function traffic(l: RelayLab): { answers: { at: number; status: number }[]; stop(): Promise<void> } {
  const answers: { at: number; status: number }[] = []
  let running = true
  const loop = (async () => {
    while (running) {
      const status = await sendRequest(l.address, l.port('metrics'), { path: '/api/v2/series', body: Buffer.from('{}') }).then((r) => r.status, () => 0)
      answers.push({ at: Date.now(), status })
      await sleep(50)
    }
  })()
  return { answers, stop: async () => { running = false; await loop } }
}

// The ms from `since` to the first answer after it with `status`.
async function firstAnswer(answers: { at: number; status: number }[], since: number, status: number, limitMs: number): Promise<number> {
  for (const deadline = Date.now() + limitMs; Date.now() < deadline; await sleep(20)) {
    const a = answers.find((x) => x.at >= since && x.status === status)
    if (a) return a.at - since
  }
  throw new Error(`no ${status} answer ${limitMs} ms after the change`)
}

export async function runBench(opts: BenchOptions): Promise<{ markdown: string; summary: string; file: string }> {
  const measuredAt = new Date()
  const product = loadProduct()
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-'))
  const pki = await FixturePki.create(path.join(dir, 'pki'))
  const cert = await pki.leaf('intake', { hosts: upstreamHosts(product) })
  const caBundle = product.packages.find((f) => f.kind === 'deb')!.caBundle
  const root = await unpackedPackage()
  const intake = await HaproxyIntake.start(product, { root, addresses: INTAKE_ADDRESSES, pem: cert.pem, statsPort: 8404, cpus: os.cpus().length >= 2 ? '1' : undefined })
  const b = new Bench(product, opts, dir, intake)
  const configs = { limit: path.join(dir, 'limit.cfg'), 'vendor-like': path.join(dir, 'vendor-like.cfg') }
  writeFileSync(configs.limit, limitConfig(product, caBundle))
  writeFileSync(configs['vendor-like'], vendorLikeConfig(product, caBundle))
  const shipped = readFileSync(path.join(root, exampleConfig(product)), 'utf8')
  // The settings below are compared by putting each in place of the shipped one: a package built
  // before the source changed would measure the old config under the new names.
  if (!shipped.includes(HEALTH_CHECKS)) throw new Error(`the packaged example config lacks \`${HEALTH_CHECKS}\`: run make packages`)
  try {
    // 1. Throughput and CPU per request, every path, interleaved rounds.
    const labs = { limit: await lab(b, 103, pki.ca, caBundle, configs.limit), ours: await lab(b, 101, pki.ca, caBundle), 'vendor-like': await lab(b, 102, pki.ca, caBundle, configs['vendor-like']) }
    const urls: Record<PathName, string> = {
      direct: `https://${intake.address}/api/v2/series`,
      ...Object.fromEntries(PROXIED.map((p) => [p, `http://${labs[p].address}:${labs[p].port('metrics')}/api/v2/series`])) as Record<Exclude<PathName, 'direct'>, string>,
    }
    const rows: { workload: Workload; path: PathName; run: Run; spread: number }[] = []
    const latency = { direct: { p50ms: 0, p99ms: 0 }, ours: { p50ms: 0, p99ms: 0 } }
    let rssMb = 0
    try {
      for (const workload of WORKLOADS) {
        const script = wrkScript(dir, workload)
        const runs = new Map<PathName, Run[]>()
        for (let round = 1; round <= opts.rounds; round++) {
          for (const p of ['direct', ...PROXIED] as PathName[]) {
            await b.wrk(urls[p], script, opts.connections, 1) // warm-up: connections, TLS sessions
            const run = await b.progress.step(`${workload}, ${p}, round ${round}`, () => b.measure(urls[p], script, p === 'direct' ? undefined : labs[p]))
            runs.set(p, [...(runs.get(p) ?? []), run])
          }
        }
        // The spread of the rounds (max - min over the median): what the machine's noise was.
        for (const [p, r] of runs) rows.push({ workload, path: p, run: medianRun(r), spread: (Math.max(...r.map((x) => x.rps)) - Math.min(...r.map((x) => x.rps))) / medianRun(r).rps })
      }
      // 2. The latency the proxy adds: one connection, keep-alive, interleaved.
      const script = wrkScript(dir, 'keep-alive')
      const lat = { direct: [] as WrkResult[], ours: [] as WrkResult[] }
      for (let round = 1; round <= opts.rounds; round++) {
        for (const p of ['direct', 'ours'] as const) lat[p].push(await b.progress.step(`latency, ${p}, round ${round}`, () => b.wrk(urls[p], script, 1, opts.seconds)))
      }
      for (const p of ['direct', 'ours'] as const) latency[p] = { p50ms: median(lat[p].map((r) => r.p50ms)), p99ms: median(lat[p].map((r) => r.p99ms)) }
      rssMb = await labs.ours.rssMb()
    } finally {
      await Promise.all(Object.values(labs).map((l) => l.close()))
    }

    // 3. Per health-check setting, alone in front of the intake's four addresses: idle cost, then
    // failover under traffic.
    const health: { name: string; setting: string; startupHandshakes: number; cpuSecondsPerHour: number; handshakesPerHour: number; rssMb: number; to503Ms: number; markedDownMs: number; recoveryMs: number }[] = []
    for (const [name, setting] of Object.entries(HEALTH_SETTINGS)) {
      const cfg = path.join(dir, `health-${health.length}.cfg`)
      writeFileSync(cfg, shipped.replace(HEALTH_CHECKS, setting))
      const start = (await intake.counters()).connections
      const l = await lab(b, 110 + health.length, pki.ca, caBundle, cfg, INTAKE_ADDRESSES)
      try {
        const startupHandshakes = (await b.progress.step(`start-up checks, ${name}`, () => settled(intake))) - start
        const before = { ...(await intake.counters()), cpu: await l.cpuMs() }
        await b.progress.step(`idle ${opts.idleSeconds} s, ${name}`, () => sleep(opts.idleSeconds * 1000))
        const after = { ...(await intake.counters()), cpu: await l.cpuMs() }
        const rss = await l.rssMb()
        const t = traffic(l)
        try {
          await intake.stop()
          const killed = Date.now()
          const to503Ms = await firstAnswer(t.answers, killed, 503, 120_000)
          await l.waitForLog(/backend '?datadog-metrics'? has no server available/, 300_000)
          const markedDownMs = Date.now() - killed
          await intake.restart(product)
          const recoveryMs = await firstAnswer(t.answers, Date.now(), 202, 300_000)
          health.push({ name, setting, startupHandshakes, cpuSecondsPerHour: (after.cpu - before.cpu) / 1000 * 3600 / opts.idleSeconds, handshakesPerHour: (after.connections - before.connections) * 3600 / opts.idleSeconds, rssMb: rss, to503Ms, markedDownMs, recoveryMs })
        } finally {
          await t.stop()
        }
      } finally {
        await l.close()
      }
    }

    const get = (w: Workload, p: PathName) => rows.find((r) => r.workload === w && r.path === p)!.run
    const ratios = {
      oursOverLimit: get('keep-alive', 'ours').rps / get('keep-alive', 'limit').rps,
      oursOverVendor: get('keep-alive', 'ours').rps / get('keep-alive', 'vendor-like').rps,
      cpuKeepAlive: get('keep-alive', 'ours').cpuUsPerRequest!,
      cpuClose: get('Connection: close', 'ours').cpuUsPerRequest!,
      addedP50: latency.ours.p50ms - latency.direct.p50ms,
      addedP99: latency.ours.p99ms - latency.direct.p99ms,
    }
    const shippedHealth = health.find((h) => h.name === 'shipped')!
    const cpu = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? os.arch()
    const markdown = [
      `# make bench: ${product.name} ${product.version}`,
      '',
      // The figures are only true of this machine on this day: the record says which.
      `Measured ${measuredAt.toISOString().replace(/:\d\d\.\d+Z$/, 'Z')} (UTC, at the start of the run).`,
      `Machine: ${os.cpus().length} x ${cpu}, Linux ${os.release()}. ${b.pinned ? 'The proxy alone on CPU 0; wrk and the intake on CPU 1.' : 'One CPU: nothing pinned.'}`,
      `wrk -t1 -c${opts.connections}, ${opts.seconds} s per run, median of ${opts.rounds} interleaved runs, POST of ${agentPayload().length} bytes of JSON.`,
      'Intake: the FIXTURE HAProxy intake (TLS, keep-alive, 202), not the bottleneck: "direct" is its own rate with this client.',
      '',
      '| workload | path | requests/s | spread of the rounds | p50 ms | p99 ms | proxy CPU µs/request | upstream TLS handshakes/request |',
      '|---|---|---:|---:|---:|---:|---:|---:|',
      ...rows.map((r) => `| ${r.workload} | ${r.path} | ${fmt(r.run.rps, 0)} | ${fmt(r.spread * 100, 0)}% | ${fmt(r.run.p50ms)} | ${fmt(r.run.p99ms)} | ${r.run.cpuUsPerRequest === undefined ? '—' : fmt(r.run.cpuUsPerRequest, 1)} | ${fmt(r.run.handshakesPerRequest, 3)} |`),
      '',
      // Ours does all the limit does and more: faster than the limit means the run was disturbed.
      ...WORKLOADS.filter((w) => get(w, 'ours').rps > get(w, 'limit').rps * 1.05).map((w) => `**Warning (${w}): ours is faster than the limit, which cannot be: this run was disturbed (see the spread); run make bench again on a quiet machine.**`),
      '',
      `Latency added by the proxy (one connection, keep-alive; ours minus direct): p50 ${fmt(ratios.addedP50 * 1000, 0)} µs, p99 ${fmt(ratios.addedP99 * 1000, 0)} µs`,
      `(direct p50 ${fmt(latency.direct.p50ms)} ms p99 ${fmt(latency.direct.p99ms)} ms; through ours p50 ${fmt(latency.ours.p50ms)} ms p99 ${fmt(latency.ours.p99ms)} ms).`,
      '',
      `Health checks, each setting alone in front of the intake, every upstream host resolving to ${INTAKE_ADDRESSES.length} addresses (${INTAKE_ADDRESSES.length} servers per backend): the start's checks (until the intake sees no new connection for 2 s), then idle over ${opts.idleSeconds} s; then, under a request every 50 ms, the intake killed (until the proxy answers 503; until it logs the metrics backend without a server) and restarted (until a request gets 202 again).`,
      '',
      `| setting | default-server checks | start-up TLS handshakes | idle CPU s/hour | idle upstream TLS handshakes/hour (${INTAKE_ADDRESSES.length} addresses per host) | RSS MB | intake killed -> 503 | intake killed -> marked down | intake back -> 202 |`,
      '|---|---|---:|---:|---:|---:|---:|---:|---:|',
      ...health.map((h) => `| ${h.name} | \`${h.setting}\` | ${h.startupHandshakes} | ${fmt(h.cpuSecondsPerHour, 1)} | ${fmt(h.handshakesPerHour, 0)} | ${fmt(h.rssMb, 1)} | ${fmt(h.to503Ms / 1000, 1)} s | ${fmt(h.markedDownMs / 1000, 1)} s | ${fmt(h.recoveryMs / 1000, 1)} s |`),
      '',
      `Proxy RSS after the load runs: ${fmt(rssMb, 1)} MB.`,
      '',
    ].join('\n')
    const summary = `bench: ours/limit=${fmt(ratios.oursOverLimit)} ours/vendor-like=${fmt(ratios.oursOverVendor)} cpu-us-per-request=${fmt(ratios.cpuKeepAlive, 1)} cpu-us-per-new-connection-request=${fmt(ratios.cpuClose, 1)} added-p50-us=${fmt(ratios.addedP50 * 1000, 0)} added-p99-us=${fmt(ratios.addedP99 * 1000, 0)} idle-cpu-s-per-hour=${fmt(shippedHealth.cpuSecondsPerHour, 1)} idle-handshakes-per-hour-${INTAKE_ADDRESSES.length}-addresses=${fmt(shippedHealth.handshakesPerHour, 0)} marked-down-s=${fmt(shippedHealth.markedDownMs / 1000, 1)} recovery-s=${fmt(shippedHealth.recoveryMs / 1000, 1)} proxy-rss-mb=${fmt(rssMb, 1)}`
    mkdirSync(distDir, { recursive: true })
    const file = path.join(distDir, 'bench.md')
    writeFileSync(file, `${markdown}\n${summary}\n`)
    return { markdown, summary, file }
  } finally {
    await intake.stop()
  }
}
