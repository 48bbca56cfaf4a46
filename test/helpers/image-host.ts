// The container image on a real engine (docker or podman): loaded from make image's archive, run
// the way the platforms run it (read-only root, a tmpfs for the writable dir, no capabilities,
// --network none), with its neighbours (the FIXTURE DNS, intake and an Agent-like client,
// test/fixtures/netns-peer.ts) started inside the container's network namespace with nsenter.
// Everything started here is stopped and removed by the caller's `remove()`.
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { $ } from 'zx'
import { type Engine, forceRemoveArgs, settlesWithin } from '../harness/containers.ts'
import { dockerLoadTags, imageArchive, imageName } from '../../scripts/lib/image.ts'
import { distDir, repoRoot } from '../../scripts/lib/paths.ts'
import type { Product } from '../../scripts/lib/product.ts'
import type { ServerCert } from '../fixtures/pki.ts'

// Where the peer's DNS server listens in the container's namespace (its resolv.conf names it).
export const PEER_DNS = '127.0.0.53'

const cli = (e: Engine, args: string[], nothrow = true) => $({ quiet: true, nothrow, env: e.env })`${e.bin} ${args}`

// Loads make image's archive as an operator does (docker load, podman load): what the engine
// printed, and the reference of this host's (amd64) image, by the name the archive gives it.
export async function loadImage(e: Engine, p: Product): Promise<{ printed: string; image: string }> {
  const r = await cli(e, ['load', '-i', imageArchive(p, distDir)], false)
  // podman qualifies a name without a registry with localhost/.
  return { printed: r.stdout + r.stderr, image: e.bin === 'podman' ? `localhost/${imageName(p)}` : imageName(p) }
}

export async function removeImage(e: Engine, image: string): Promise<void> {
  await cli(e, ['rmi', '-f', image])
}

// Every name loadImage gives the archive's images on this engine: what a test file removes at its end.
export const loadedNames = (e: Engine, p: Product) =>
  e.bin === 'docker' ? p.architectures.flatMap((a) => dockerLoadTags(p, a)) : [`localhost/${imageName(p)}`]

export interface RunOptions {
  name: string
  env?: Record<string, string>
  volumes?: [string, string][]
  // false: no tmpfs on the writable dir (the failure an operator meets without one)
  tmpfs?: boolean
  // false: a writable root filesystem, without a tmpfs (the image's own writable dir)
  readOnly?: boolean
  // --user, instead of the image's
  user?: string
}

// A reply of the peer: what the FIXTURE client or intake saw.
export type PeerReply = Record<string, any>

export class Peer {
  private readonly pending: { resolve(v: PeerReply): void; reject(e: Error): void }[] = []
  private constructor(private readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => this.pending.shift()?.resolve(JSON.parse(line)))
    child.on('exit', (code) => { for (const p of this.pending.splice(0)) p.reject(new Error(`the netns peer exited (${code})`)) })
  }

  static async start(pid: number, cert: ServerCert, hosts: string[]): Promise<Peer> {
    const child = spawn('nsenter', [`--net=/proc/${pid}/ns/net`, '--', path.join(repoRoot, 'node_modules/.bin/tsx'), path.join(repoRoot, 'test/fixtures/netns-peer.ts')], {
      env: { ...process.env, PEER_CERT: cert.cert, PEER_KEY: cert.key, PEER_HOSTS: JSON.stringify(hosts), PEER_DNS },
      stdio: ['pipe', 'pipe', 'inherit'],
    })
    const peer = new Peer(child)
    const ready = await peer.next()
    if (!ready.ready) throw new Error(`the netns peer did not start: ${JSON.stringify(ready)}`)
    return peer
  }

  private next(): Promise<PeerReply> {
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }))
  }

  call(command: PeerReply): Promise<PeerReply> {
    const reply = this.next()
    this.child.stdin!.write(`${JSON.stringify(command)}\n`)
    return reply
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return
    const exited = new Promise((resolve) => this.child.once('exit', resolve))
    this.child.stdin!.end()
    await settlesWithin(exited, 3000)
    this.child.kill('SIGKILL')
  }
}

export class ImageContainer {
  private constructor(readonly engine: Engine, readonly id: string) {}

  // A container the engine started otherwise (a pod's, from podman kube play).
  static of(e: Engine, id: string): ImageContainer {
    return new ImageContainer(e, id)
  }

  // Runs the image as the platforms do: --read-only, a tmpfs on the writable dir, no capability,
  // --network none; the volumes read-only.
  static async run(e: Engine, p: Product, image: string, opts: RunOptions): Promise<ImageContainer> {
    const readOnly = opts.readOnly !== false
    const args = [
      'run', '-d', '--name', opts.name, '--network', 'none', '--cap-drop', 'all',
      ...(opts.user === undefined ? [] : ['--user', opts.user]),
      ...(readOnly ? ['--read-only'] : []),
      // podman's --read-only adds tmpfs mounts on /tmp, /var/tmp and /run unless told not to.
      ...(!readOnly ? [] : opts.tmpfs === false ? (e.bin === 'podman' ? ['--read-only-tmpfs=false'] : []) : ['--tmpfs', p.image.writableDir]),
      ...Object.entries(opts.env ?? {}).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
      ...(opts.volumes ?? []).flatMap(([host, inside]) => ['-v', `${host}:${inside}:ro`]),
      image,
    ]
    const r = await cli(e, args)
    if (r.exitCode !== 0) throw new Error(`${e.bin} run failed: ${r.stderr}`)
    return new ImageContainer(e, r.stdout.trim())
  }

  async inspect(format: string): Promise<string> {
    return (await cli(this.engine, ['inspect', '--format', format, this.id])).stdout.trim()
  }

  // The host PID of the container's PID 1 (0 once it has exited).
  async pid(): Promise<number> {
    return Number(await this.inspect('{{.State.Pid}}'))
  }

  // PID 1 and every process under it, on the host.
  async processes(): Promise<number[]> {
    const all: number[] = []
    const visit = (pid: number) => {
      all.push(pid)
      for (const task of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) visit(Number(task))
    }
    visit(await this.pid())
    return all
  }

  exec(args: string[], env: Record<string, string> = {}) {
    return cli(this.engine, ['exec', ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]), this.id, ...args])
  }

  // The container's output (stdout and stderr, as the engine's log has them).
  async logs(): Promise<string> {
    const r = await cli(this.engine, ['logs', this.id])
    return `${r.stdout}${r.stderr}`
  }

  // Waits until the container has exited; its exit code.
  async exitCode(timeoutMs = 20_000): Promise<number> {
    for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
      if ((await this.inspect('{{.State.Running}}')) === 'false') return Number(await this.inspect('{{.State.ExitCode}}'))
    }
    throw new Error(`container ${this.id} still runs after ${timeoutMs} ms`)
  }

  // `stop` with the engine's kill timeout: the stop's duration and the exit code (137 if killed).
  async stop(timeoutS: number): Promise<{ ms: number; exitCode: number }> {
    const started = Date.now()
    await cli(this.engine, ['stop', '-t', String(timeoutS), this.id])
    return { ms: Date.now() - started, exitCode: Number(await this.inspect('{{.State.ExitCode}}')) }
  }

  async remove(): Promise<void> {
    await cli(this.engine, forceRemoveArgs(this.engine.bin, this.id))
  }
}
