// Access to a built proxy tree (build/proxy/<arch>) for the tests: paths, a runner that uses
// qemu for foreign architectures, and a FIPS-enabled OpenSSL configuration in a temp directory.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { $, type ProcessOutput } from 'zx'
import { proxyOutDir } from '../../scripts/lib/proxy-build.ts'
import { type Product } from '../../scripts/lib/product.ts'

const QEMU: Record<string, string[]> = {
  aarch64: ['qemu-aarch64-static', '-L', '/usr/aarch64-linux-gnu'],
}

export class ProxyTree {
  readonly root: string
  readonly embedded: string
  // base: where the trees of each architecture are (default: build/proxy, what make proxy writes).
  constructor(readonly product: Product, readonly arch: string, base?: string) {
    this.root = base ? path.join(base, arch) : proxyOutDir(arch)
    this.embedded = path.join(this.root, product.paths.embedded)
    if (!existsSync(path.join(this.root, 'build-report.json'))) throw new Error(`no proxy tree in ${this.root}: run 'make proxy' (or 'make proxy-two-source') first`)
  }

  file(rel: string): string {
    return path.join(this.embedded, rel)
  }

  report(): any {
    return JSON.parse(readFileSync(path.join(this.root, 'build-report.json'), 'utf8'))
  }

  // Runs a binary of the tree (under qemu for a foreign architecture) with a clean environment.
  run(rel: string, args: string[], env: Record<string, string> = {}, input?: string): Promise<ProcessOutput> {
    const argv = [...(os.arch() === 'x64' && this.arch === 'x86_64' ? [] : QEMU[this.arch]), this.file(rel), ...args]
    return $({ nothrow: true, quiet: true, env: { PATH: process.env.PATH!, ...env }, input })`${argv}`
  }

  // openssl.cnf rewritten to include a fipsmodule.cnf in a temporary directory, plus the
  // environment that points the tree's OpenSSL at it; fipsinstall has not run yet.
  fipsConfig(): { dir: string; env: Record<string, string>; fipsmodule: string } {
    const dir = mkdtempSync(path.join(os.tmpdir(), `fips-${this.arch}-`))
    const fipsmodule = path.join(dir, 'fipsmodule.cnf')
    const shipped = path.join(this.product.paths.embedded, 'ssl', 'fipsmodule.cnf')
    const cnf = readFileSync(this.file('ssl/openssl.cnf'), 'utf8').replace(shipped, fipsmodule)
    writeFileSync(path.join(dir, 'openssl.cnf'), cnf)
    return { dir, fipsmodule, env: { OPENSSL_CONF: path.join(dir, 'openssl.cnf'), OPENSSL_MODULES: this.file('lib/ossl-modules') } }
  }

  // As the package does on the host: fipsinstall without loading openssl.cnf (which needs its output).
  fipsinstall(fipsmodule: string): Promise<ProcessOutput> {
    return this.run('bin/openssl', ['fipsinstall', '-module', this.file('lib/ossl-modules/fips.so'), '-out', fipsmodule], { OPENSSL_CONF: '/dev/null' })
  }
}
