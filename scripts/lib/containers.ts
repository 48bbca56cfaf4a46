// A container engine for the tests and the matrix: the `docker` CLI when a daemon answers, else
// podman with the settings this kind of host needs (runc instead of crun, bounded rlimits; see
// README). Images are imported from root filesystem tarballs; containers boot systemd as PID 1.
import { createHash } from 'node:crypto'
import { mkdirSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { $, type ProcessOutput } from 'zx'
import { buildDir } from './paths.ts'

export interface Engine {
  bin: 'docker' | 'podman'
  env: NodeJS.ProcessEnv
}

let detected: Engine | undefined

export async function engine(): Promise<Engine> {
  if (detected) return detected
  if ((await $({ nothrow: true, quiet: true })`docker info --format {{.ServerVersion}}`.timeout('10s')).exitCode === 0) {
    detected = { bin: 'docker', env: process.env }
    return detected
  }
  if ((await $({ nothrow: true, quiet: true })`podman --version`).exitCode !== 0) {
    throw new Error('no container engine: no docker daemon answers and podman is not installed (make deps installs podman)')
  }
  const conf = path.join(buildDir, 'containers.conf')
  mkdirSync(buildDir, { recursive: true })
  writeFileSync(conf, '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n[engine]\nruntime = "runc"\n')
  detected = { bin: 'podman', env: { ...process.env, CONTAINERS_CONF: conf } }
  return detected
}

async function run(args: string[], opts: { nothrow?: boolean; input?: string } = {}): Promise<ProcessOutput> {
  const e = await engine()
  return $({ quiet: true, nothrow: opts.nothrow ?? false, env: e.env, input: opts.input })`${e.bin} ${args}`
}

// Imports a root filesystem tarball once; the image name carries the tarball's identity.
export async function importImage(tarball: string, name: string): Promise<string> {
  const st = statSync(tarball)
  const tag = createHash('sha256').update(`${tarball}:${st.size}:${st.mtimeMs}`).digest('hex').slice(0, 12)
  const image = `localhost/${name}:${tag}`
  if ((await run(['image', 'exists', image], { nothrow: true })).exitCode !== 0) {
    await run(['import', tarball, image])
  }
  return image
}

export interface Container {
  id: string
  exec(cmd: string, opts?: { env?: Record<string, string>; input?: string }): Promise<ProcessOutput>
  copyIn(from: string, to: string): Promise<void>
  remove(): Promise<void>
}

// Starts a container with systemd as PID 1 and waits until it has booted. It has no network but
// its own loopback: whatever it needs is served inside it, and no traffic leaves the host.
export async function startSystemd(image: string, opts: { name: string; volumes?: [string, string][] }): Promise<Container> {
  const e = await engine()
  const volumes = (opts.volumes ?? []).flatMap(([host, inside]) => ['-v', `${host}:${inside}:ro`])
  // CAP_SYS_ADMIN: systemd >= 256 keeps it across User= to set up a unit's sandbox, as PID 1 of a
  // real host can; without it such units fail at step USER.
  const systemd = e.bin === 'podman'
    ? ['--systemd=always', '--cap-add=SYS_ADMIN']
    : ['--privileged', '--cgroupns=host', '-v', '/sys/fs/cgroup:/sys/fs/cgroup:rw', '--tmpfs', '/run', '--tmpfs', '/tmp']
  const id = (await run(['run', '-d', '--name', opts.name, '--hostname', opts.name, '--network', 'none', ...systemd, ...volumes, image, '/sbin/init'])).stdout.trim()
  const container: Container = {
    id,
    exec: (cmd, o = {}) => run(['exec', ...(o.input !== undefined ? ['-i'] : []), ...Object.entries(o.env ?? {}).flatMap(([k, v]) => ['-e', `${k}=${v}`]), id, 'bash', '-c', cmd], { nothrow: true, input: o.input }),
    copyIn: async (from, to) => { await run(['cp', from, `${id}:${to}`]) },
    remove: async () => { await run(['rm', '-f', '-t', '0', id], { nothrow: true }) },
  }
  for (let i = 0; i < 60; i++) {
    const state = (await container.exec('systemctl is-system-running 2>/dev/null || true')).stdout.trim()
    if (state === 'running' || state === 'degraded') return container
    await new Promise((r) => setTimeout(r, 500))
  }
  await container.remove()
  throw new Error(`container ${opts.name} did not boot systemd within 30 s`)
}
