// A relay lab: the shipped proxy (the x86_64/arm64 .deb of dist/, unpacked, whichever this machine
// runs) started on its unmodified example config, in front of a FIXTURE intake and a FIXTURE DNS server.
//
// How the proxy reaches the fixture without editing the shipped config: HAProxy runs in a private
// mount namespace (unshare, root) in which
//   - the unpacked package is bind-mounted at its install prefix (/opt/...), so the binary, its
//     openssl.cnf and fipsmodule.cnf (generated there by the package's own fipsinstall) are at
//     the paths they have on a host;
//   - /etc/resolv.conf names the fixture DNS server, which the config's `resolvers system`
//     (parse-resolv-conf) queries: every upstream host resolves to the fixture intake's address;
//   - the CA bundle the config names (ca-file) is replaced by one holding the fixture CA only.
// HAProxy starts as the unit starts it, through the package's run-haproxy (which sets the ports of
// the range, DD_FIPS_PORT_RANGE_START when the lab gives one).
// Each lab uses its own loopback addresses 127.77.<id>.x (proxy .1, intake .10, DNS .53), set with
// DD_FIPS_LOCAL_ADDRESS as the unit's environment could, so labs run side by side.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { $ } from 'zx'
import { exampleConfig, fipsinstallPath, type Product, runHaproxyPath } from '../../scripts/lib/product.ts'
import { distPackage } from './dist.ts'
import { type RunningDns, startDns } from '../fixtures/dns.ts'
import { type RunningIntake, startIntake } from '../fixtures/intake.ts'
import type { ServerCert } from '../fixtures/pki.ts'

const DEB_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64' }
// clock ticks per second of /proc/<pid>/stat's CPU times
let ticksPerSecond: number | undefined

// The .deb for this machine, unpacked once per test process.
let unpacked: Promise<string> | undefined
export function unpackedPackage(): Promise<string> {
  unpacked ??= (async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'relay-pkg-'))
    await $({ quiet: true })`dpkg-deb -x ${distPackage('deb', DEB_ARCH[os.arch()])} ${root}`
    return root
  })()
  return unpacked
}

// The upstream hosts of the product: every relay's, and every route's.
export function upstreamHosts(p: Product): string[] {
  return [...new Set(p.ports.services.flatMap((s) => [s.upstream, ...s.routes.map((r) => r.upstream)]).filter((h): h is string => !!h))]
}

export interface LabOptions {
  // 1..254, distinct per concurrent lab: picks the loopback addresses
  id: number
  // the intake's certificate and, for the cipher case, its cipher list; 'down': nothing listens;
  // { external }: the upstream hosts resolve to that address (or those: one server of each backend
  // per address), where the caller runs an intake
  intake: { cert: ServerCert; ciphers?: string; keepRecords?: boolean; closeReused?: boolean } | 'down' | { external: string | string[] }
  // the CA certificate that stands in for the CA bundle the config names
  ca: string
  // the CA bundle path inside the config (the package format's)
  caBundle: string
  // another HAProxy config to run instead of the shipped example (the benchmark's vendor-like one)
  config?: string
  // DD_FIPS_PORT_RANGE_START: another range than the product's default
  portRangeStart?: number
  // the CPUs the proxy may run on (taskset), e.g. '0': the benchmark keeps it apart from its client
  cpus?: string
  // DD_FIPS_LOCAL_ADDRESS (the Agent's fips.local_address), e.g. '::1': else the lab's 127.77.<id>.1
  address?: string
}

export interface Reply {
  status: number
  body: string
  reusedSocket: boolean
}

export interface SendOptions {
  method?: string
  path?: string
  body?: Buffer
  // send the body in pieces without a Content-Length (Transfer-Encoding: chunked)
  chunked?: boolean
  agent?: http.Agent
  // chunked: the pause between pieces
  pauseMs?: number
}

// An HTTP request as the Agent sends one to the proxy; a chunked body goes in 64 KiB pieces,
// `pauseMs` apart when given (a slow upload, still in flight a while).
export function sendRequest(address: string, port: number, opts: SendOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json' }
    if (opts.body && !opts.chunked) headers['content-length'] = opts.body.length
    const req = http.request({ host: address, port, method: opts.method ?? 'POST', path: opts.path ?? '/', headers, agent: opts.agent }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString(), reusedSocket: req.reusedSocket }))
    })
    req.on('error', reject)
    const write = async () => {
      if (opts.body && opts.chunked) {
        for (let at = 0; at < opts.body.length; at += 64 * 1024) {
          req.write(opts.body.subarray(at, at + 64 * 1024))
          if (opts.pauseMs) await sleep(opts.pauseMs)
        }
      } else if (opts.body) {
        req.write(opts.body)
      }
      req.end()
    }
    write().catch(reject)
  })
}

// True when the stats page's CSV shows every backend with a server that has an address (servers
// start without one, init-addr none, and get it from the resolvers).
export function backendsResolved(csv: string): boolean {
  const rows = csv.split('\n').map((l) => l.split(','))
  const backends = new Set(rows.filter((r) => r[1] === 'BACKEND').map((r) => r[0]).filter((b) => b !== 'stats'))
  const resolved = new Set(rows.filter((r) => /^mothership/.test(r[1] ?? '') && r[17] && !r[17].startsWith('MAINT')).map((r) => r[0]))
  return backends.size > 0 && [...backends].every((b) => resolved.has(b))
}

export class RelayLab {
  readonly log: string[] = []
  private exited: number | null | undefined

  private constructor(
    readonly product: Product,
    readonly address: string,
    readonly dns: RunningDns,
    readonly intake: RunningIntake | undefined,
    // The first port of the lab's range.
    readonly rangeStart: number,
    private readonly proxy: ChildProcess,
    private readonly dir: string,
  ) {
    const collect = (chunk: Buffer) => this.log.push(...chunk.toString().split('\n').filter(Boolean))
    proxy.stdout!.on('data', collect)
    proxy.stderr!.on('data', collect)
    proxy.on('exit', (code) => (this.exited = code))
  }

  static async start(product: Product, opts: LabOptions): Promise<RelayLab> {
    const net3 = `127.77.${opts.id}`
    const intake = opts.intake === 'down' || 'external' in opts.intake
      ? undefined
      : await startIntake({ ...opts.intake, address: `${net3}.10`, cert: opts.intake.cert.cert, key: opts.intake.cert.key })
    const intakeAddress = typeof opts.intake === 'object' && 'external' in opts.intake ? opts.intake.external : `${net3}.10`
    const dns = await startDns(`${net3}.53`, Object.fromEntries(upstreamHosts(product).map((h) => [h, intakeAddress])))
    const dir = mkdtempSync(path.join(os.tmpdir(), `relay-lab-${opts.id}-`))
    writeFileSync(path.join(dir, 'resolv.conf'), `nameserver ${net3}.53\n`)
    const root = await unpackedPackage()
    const prefix = product.paths.prefix
    const embedded = product.paths.embedded
    const script = [
      'set -e',
      `mount -t tmpfs fixture-opt ${path.dirname(prefix)}`,
      `mkdir -p ${prefix}`,
      `mount --bind ${root}${prefix} ${prefix}`,
      `mount --bind ${dir}/resolv.conf /etc/resolv.conf`,
      `mount --bind ${opts.ca} ${opts.caBundle}`,
      fipsinstallPath(product),
      `exec ${runHaproxyPath(product)} -W -db -f ${opts.config ?? root + exampleConfig(product)}`,
    ].join('\n')
    const range = opts.portRangeStart ? { DD_FIPS_PORT_RANGE_START: String(opts.portRangeStart) } : {}
    const unshare = ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', script]
    const argv = opts.cpus ? ['taskset', '-c', opts.cpus, ...unshare] : unshare
    const proxy = spawn(argv[0], argv.slice(1), {
      env: { PATH: process.env.PATH, OPENSSL_CONF: `${embedded}/ssl/openssl.cnf`, DD_FIPS_LOCAL_ADDRESS: opts.address ?? `${net3}.1`, ...range },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const lab = new RelayLab(product, opts.address ?? `${net3}.1`, dns, intake, opts.portRangeStart ?? product.ports.rangeStart, proxy, dir)
    await lab.waitForListener(lab.rangeStart)
    return lab
  }

  // The proxy's processes (master and workers).
  async pids(): Promise<number[]> {
    const children = (await $({ quiet: true, nothrow: true })`ps -o pid= --ppid ${this.proxy.pid!}`).stdout
    return [this.proxy.pid!, ...children.trim().split(/\s+/).filter(Boolean).map(Number)]
  }

  // CPU time used so far by the proxy's processes (user + system), in milliseconds.
  async cpuMs(): Promise<number> {
    ticksPerSecond ??= Number((await $({ quiet: true })`getconf CLK_TCK`).stdout)
    let ticks = 0
    for (const pid of await this.pids()) {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
      ticks += Number(fields[11]) + Number(fields[12]) // utime, stime
    }
    return (ticks * 1000) / ticksPerSecond
  }

  // Resident memory of the proxy's processes, in MB.
  async rssMb(): Promise<number> {
    let kb = 0
    for (const pid of await this.pids()) kb += Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0)
    return kb / 1024
  }

  port(name: string): number {
    const service = this.product.ports.services.find((s) => s.name === name)
    if (!service) throw new Error(`no service ${name} in the product definition`)
    return this.rangeStart + service.offset
  }

  send(port: number, opts: SendOptions = {}): Promise<Reply> {
    return sendRequest(this.address, port, opts)
  }

  // Servers start without an address (init-addr none) and get it from the resolvers: wait until
  // every backend has a server with the fixture's address, as the stats page reports it.
  async waitForResolution(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      if (backendsResolved((await this.send(this.rangeStart, { method: 'GET', path: '/;csv' })).body)) return
      if (Date.now() > deadline) throw new Error(`backends not resolved after ${timeoutMs} ms; DNS queries: ${this.dns.queries.join(' ')}\n${this.log.join('\n')}`)
      await sleep(200)
    }
  }

  async waitForLog(pattern: RegExp, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const line = this.log.find((l) => pattern.test(l))
      if (line) return line
      if (Date.now() > deadline) throw new Error(`no log line matching ${pattern} after ${timeoutMs} ms:\n${this.log.join('\n')}`)
      await sleep(200)
    }
  }

  // The proxy's listening sockets (master and workers), from ss: "address:port" each.
  async listeners(): Promise<string[]> {
    const pids = await this.pids()
    const lines = (await $({ quiet: true })`ss -ltnpH`).stdout.split('\n')
    return lines.filter((l) => pids.some((pid) => l.includes(`pid=${pid},`))).map((l) => l.trim().split(/\s+/)[3])
  }

  async close(): Promise<void> {
    if (this.exited === undefined) {
      const exited = new Promise((resolve) => this.proxy.once('exit', resolve))
      this.proxy.kill('SIGTERM')
      await exited
    }
    await this.dns.close()
    await this.intake?.close()
    rmSync(this.dir, { recursive: true, force: true })
  }

  private async waitForListener(port: number): Promise<void> {
    const deadline = Date.now() + 20_000
    for (;;) {
      if (this.exited !== undefined) throw new Error(`the proxy exited (${this.exited}) while starting:\n${this.log.join('\n')}`)
      if (await canConnect(this.address, port)) return
      if (Date.now() > deadline) throw new Error(`the proxy is not listening on ${this.address}:${port} after 20 s:\n${this.log.join('\n')}`)
      await sleep(100)
    }
  }
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port }, () => {
      socket.destroy()
      resolve(true)
    })
    socket.on('error', () => resolve(false))
  })
}
