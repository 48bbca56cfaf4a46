// A matrix host: a systemd container of any supported distribution (no network but its loopback)
// with the test repositories served there over HTTP, as a release publishes them; the install
// script is run as the one-liner does. What differs per package format comes from platforms.ts.
import { startSystemd, type Container } from '../../scripts/lib/containers.ts'
import type { Product } from '../../scripts/lib/product.ts'
import { REPO_PORT, REPO_URL, SCRIPT } from '../helpers/installer-host.ts'
import { type Platform, REPO_SERVER } from './platforms.ts'

export interface MatrixHost {
  container: Container
  sh(cmd: string, env?: Record<string, string>): Promise<{ code: number; out: string }>
  // Runs the script as the one-liner does: bash -c "$(curl -L <url>/install_script_agent7.sh)".
  install(env: Record<string, string>): Promise<{ code: number; out: string }>
  // Serves another mounted tree (/srv/repo, /srv/repo-next) at the same URL.
  serve(dir: string): Promise<void>
  // What changed since the last mark(): paths under the watched directories, and the installed
  // packages when they changed.
  mark(): Promise<void>
  changedSinceMark(): Promise<string[]>
}

const PIDFILE = '/run/dd-matrix-repo-server.pid'

export interface MatrixHostOptions {
  image: string
  platform: Platform
  product: Product
  // The served tree, at /srv/repo, and the newer release's, at /srv/repo-next.
  served: string
  next: string
  name: string
}

export async function matrixHost(opts: MatrixHostOptions): Promise<MatrixHost> {
  const container = await startSystemd(opts.image, { name: opts.name, volumes: [[opts.served, '/srv/repo'], [opts.next, '/srv/repo-next']] })
  const sh = async (cmd: string, env: Record<string, string> = {}) => {
    const r = await container.exec(cmd, { env })
    return { code: r.exitCode ?? -1, out: r.stdout + r.stderr }
  }
  const p = opts.product
  const watched = ['/etc/datadog-agent', p.paths.configDir, '/opt', ...opts.platform.watched(p)].join(' ')
  let packagesAtMark = ''
  const serve = async (dir: string) => {
    // The previous server is gone before the next one binds the port; then the script answers.
    const started = await sh([
      `old=$(cat ${PIDFILE} 2>/dev/null || true)`,
      'if [ -n "$old" ]; then kill "$old"; while kill -0 "$old" 2>/dev/null; do sleep 0.1; done; fi',
      `cd ${dir} || exit 1`,
      REPO_SERVER.command(REPO_PORT),
      `{ setsid "$@" >/dev/null 2>&1 & echo $! >${PIDFILE}; }`,
      `for _ in $(seq 50); do curl -fs -o /dev/null ${REPO_URL}/${SCRIPT} && exit 0; sleep 0.1; done`,
      `echo "no HTTP server answers on ${REPO_URL} (busybox httpd or python3 in the image)"; exit 1`,
    ].join('\n'))
    if (started.code !== 0) throw new Error(`serving ${dir}: ${started.out.trim()}`)
  }
  try {
    await serve('/srv/repo')
  } catch (err) {
    await container.remove()
    throw err
  }
  return {
    container,
    sh,
    install: (env) => sh(`cd /root && bash -c "$(curl -fsSL ${REPO_URL}/${SCRIPT})"`, { DD_REPO_URL: REPO_URL, ...env }),
    serve,
    mark: async () => {
      packagesAtMark = (await sh(opts.platform.packageState)).out
      await sh('touch /tmp/mark && sleep 1.1')
    },
    changedSinceMark: async () => [
      ...(await sh(`find ${watched} -newer /tmp/mark 2>/dev/null || true`)).out.split('\n').filter(Boolean),
      ...((await sh(opts.platform.packageState)).out === packagesAtMark ? [] : ['(the installed packages)']),
    ],
  }
}
