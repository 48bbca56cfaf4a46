// A container engine for the tests and the matrix, chosen by MATRIX_ENGINE: `docker` (the default),
// a Docker Engine answering on DOCKER_HOST (or the default socket; test/harness/engine-session.ts
// starts one for a run when none answers), or `podman`, with the settings this kind of host needs
// (runc instead of crun, bounded rlimits, no private bind mount of its storage; see test/README.md). Images are
// imported from root filesystem tarballs or pulled from a registry, and prepared by a script run with
// network; containers boot systemd as PID 1.
import { createHash } from 'node:crypto'
import { mkdirSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { $, type ProcessOutput } from 'zx'
import { runLogged } from '../../scripts/lib/exec.ts'
import { buildDir } from '../../scripts/lib/paths.ts'

// Whether p settles within ms. The timer is cleared when it does: a pending timer keeps node alive,
// and a 30 s one once held every test run and matrix for 30 s after its Docker daemon had stopped.
export async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), ms) })
  try {
    return await Promise.race([p.then(() => true, () => true), timeout])
  } finally {
    clearTimeout(timer)
  }
}

export type EngineName = 'docker' | 'podman'

export interface Engine {
  bin: EngineName
  env: NodeJS.ProcessEnv
}

const ENGINES: EngineName[] = ['docker', 'podman']

// The engine MATRIX_ENGINE names (docker when unset: the users' engine); a bad value is an error.
export function requestedEngine(value = process.env.MATRIX_ENGINE): EngineName {
  if (!value) return 'docker'
  if (!(ENGINES as string[]).includes(value)) throw new Error(`MATRIX_ENGINE must be one of ${ENGINES.join(', ')}, not '${value}'`)
  return value as EngineName
}

// True if a Docker daemon answers on DOCKER_HOST (or the default socket).
export async function dockerAnswers(env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  return (await $({ nothrow: true, quiet: true, env })`docker version --format {{.Server.Version}}`.timeout('10s')).exitCode === 0
}

// podman's settings for this kind of host. skip_mount_home: containers/storage otherwise bind-mounts
// its overlay directory onto itself, privately, and leaves that mount on the host.
function podmanEnv(): NodeJS.ProcessEnv {
  mkdirSync(buildDir, { recursive: true })
  const conf = path.join(buildDir, 'containers.conf')
  writeFileSync(conf, '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n[engine]\nruntime = "runc"\n')
  const storage = path.join(buildDir, 'storage.conf')
  writeFileSync(storage, '[storage]\ndriver = "overlay"\nrunroot = "/run/containers/storage"\ngraphroot = "/var/lib/containers/storage"\n[storage.options.overlay]\nskip_mount_home = "true"\n')
  return { ...process.env, CONTAINERS_CONF: conf, CONTAINERS_STORAGE_CONF: storage }
}

let detected: Engine | undefined

// The engine of the run (MATRIX_ENGINE).
export async function engine(): Promise<Engine> {
  detected ??= await engineNamed(requestedEngine())
  return detected
}

// An engine by name, checked to answer: docker needs a daemon, podman only its binary.
export async function engineNamed(bin: EngineName): Promise<Engine> {
  if (bin === 'docker') {
    if (!(await dockerAnswers())) {
      throw new Error(`MATRIX_ENGINE=docker: no Docker daemon answers on ${process.env.DOCKER_HOST || 'the default socket'} (make matrix and make test start one; make deps installs docker.io)`)
    }
    return { bin, env: process.env }
  }
  if ((await $({ nothrow: true, quiet: true })`podman --version`).exitCode !== 0) {
    throw new Error('MATRIX_ENGINE=podman: podman is not installed (make deps installs it)')
  }
  return { bin, env: podmanEnv() }
}

async function run(args: string[], opts: { nothrow?: boolean; input?: string } = {}): Promise<ProcessOutput> {
  const e = await engine()
  return $({ quiet: true, nothrow: opts.nothrow ?? false, env: e.env, input: opts.input })`${e.bin} ${args}`
}

// Removes every container whose name matches (names compared here: docker and podman filter
// names differently).
export async function removeContainersNamed(pattern: RegExp): Promise<void> {
  const names = (await run(['ps', '-a', '--format', '{{.Names}}'], { nothrow: true })).stdout.split('\n').filter((n) => pattern.test(n))
  if (names.length) await run(['rm', '-f', ...names], { nothrow: true })
}

// The image's ID if the engine has it (`image inspect`: docker has no `image exists`).
async function imageId(image: string): Promise<string | undefined> {
  const r = await run(['image', 'inspect', '--format', '{{.Id}}', image], { nothrow: true })
  return r.exitCode === 0 ? r.stdout.trim() : undefined
}

// Imports a root filesystem tarball once; the image name carries the tarball's identity.
export async function importImage(tarball: string, name: string): Promise<string> {
  const st = statSync(tarball)
  const tag = createHash('sha256').update(`${tarball}:${st.size}:${st.mtimeMs}`).digest('hex').slice(0, 12)
  const image = `localhost/${name}:${tag}`
  if (!(await imageId(image))) await run(['import', tarball, image])
  return image
}

// Pulls the image unless the engine has it; on failure, the reason the engine gives.
export async function pullImage(image: string): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (await imageId(image)) return { ok: true }
  const pulled = await run(['pull', image], { nothrow: true })
  if (pulled.exitCode === 0) return { ok: true }
  const said = `${pulled.stderr}\n${pulled.stdout}`.split('\n').map((l) => l.trim()).filter(Boolean)
  return { ok: false, reason: said.find((l) => /^Error/i.test(l)) ?? said.at(-1) ?? `${(await engine()).bin} pull exited ${pulled.exitCode}` }
}

// The image `base` after `script` (sh) has run in it with network, committed as
// localhost/<name>:<hash of the base image and the script>: reused while both are the same.
// The script's output goes to the log, which an error names.
export async function preparedImage(base: string, name: string, script: string, log: string): Promise<string> {
  const baseId = await imageId(base)
  if (!baseId) throw new Error(`no image ${base} to prepare`)
  const image = `localhost/${name}:${createHash('sha256').update(`${baseId}\n${script}`).digest('hex').slice(0, 12)}`
  if (await imageId(image)) return image
  const e = await engine()
  const container = `${name}-prepare-${process.pid}`
  try {
    // The host's network: the harness's Docker daemon has no bridge, and podman's default network
    // would create one on the host.
    await runLogged([e.bin, 'run', '--name', container, '--network', 'host', base, 'sh', '-c', script], { cwd: buildDir, env: e.env, log })
    await run(['commit', container, image])
  } finally {
    await run(['rm', '-f', container], { nothrow: true })
  }
  return image
}

// Removing a container at once: docker rm -f kills it; podman's waits for a stop timeout unless told none.
export const forceRemoveArgs = (bin: EngineName, id: string) => ['rm', '-f', ...(bin === 'podman' ? ['-t', '0'] : []), id]

export interface Container {
  id: string
  exec(cmd: string, opts?: { env?: Record<string, string>; input?: string }): Promise<ProcessOutput>
  remove(): Promise<void>
}

// Starts a container with systemd as PID 1 and waits until it has booted. It has no network but
// its own loopback: whatever it needs is served inside it, and no traffic leaves the host.
export async function startSystemd(image: string, opts: { name: string; volumes?: [string, string][] }): Promise<Container> {
  const e = await engine()
  const volumes = (opts.volumes ?? []).flatMap(([host, inside]) => ['-v', `${host}:${inside}:ro`])
  // CAP_SYS_ADMIN: systemd >= 256 keeps it across User= to set up a unit's sandbox, as PID 1 of a
  // real host can; without it such units fail at step USER. Both engines: a private cgroup
  // namespace. In the host's (podman's default on a cgroup v1 host), systemd in the container
  // remounted the host's cgroup2 hierarchy with nsdelegate; the matrix's mount-table check caught it.
  // Docker: never --privileged (refused on some hosts) nor the host's /sys/fs/cgroup read-write
  // (systemd in the container remounted the host's cgroup tmpfs read-only); the tmpfs systemd expects.
  const systemd = e.bin === 'podman'
    ? ['--systemd=always', '--cgroupns=private', '--cap-add=SYS_ADMIN']
    : ['--cgroupns=private', '--cap-add=SYS_ADMIN', '--security-opt', 'seccomp=unconfined', '--tmpfs', '/run', '--tmpfs', '/run/lock', '--tmpfs', '/tmp']
  const id = (await run(['run', '-d', '--name', opts.name, '--hostname', opts.name, '--network', 'none', ...systemd, ...volumes, image, '/sbin/init'])).stdout.trim()
  const container: Container = {
    id,
    exec: (cmd, o = {}) => run(['exec', ...(o.input !== undefined ? ['-i'] : []), ...Object.entries(o.env ?? {}).flatMap(([k, v]) => ['-e', `${k}=${v}`]), id, 'bash', '-c', cmd], { nothrow: true, input: o.input }),
    remove: async () => { await run(forceRemoveArgs(e.bin, id), { nothrow: true }) },
  }
  for (let i = 0; i < 60; i++) {
    const state = (await container.exec('systemctl is-system-running 2>/dev/null || true')).stdout.trim()
    if (state === 'running' || state === 'degraded') return container
    await new Promise((r) => setTimeout(r, 500))
  }
  await container.remove()
  throw new Error(`container ${opts.name} did not boot systemd within 30 s`)
}
