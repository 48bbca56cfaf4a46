// The vendor-dialect FIXTURE config (test/fixtures/vendor-dialect.cfg) and what a test needs to
// drive it: each relay port it binds with the upstream host its default backend sends to.
import { copyFileSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { repoRoot } from '../../scripts/lib/paths.ts'
import { type Product, configDirCaBundle, liveConfig } from '../../scripts/lib/product.ts'
import { upstreamHosts } from './relay-lab.ts'

export const VENDOR_DIALECT_CONFIG = path.join(repoRoot, 'test/fixtures/vendor-dialect.cfg')

// [port, upstream host] per frontend, read from the fixture (a frontend's bind port, its
// default_backend, that backend's server-template host).
export function vendorDialectHosts(): [number, string][] {
  const sections = readFileSync(VENDOR_DIALECT_CONFIG, 'utf8').split(/\n(?=\S)/)
  const body = (kind: string, name: string) => sections.find((s) => s.startsWith(`${kind} ${name}\n`)) ?? ''
  return sections.filter((s) => s.startsWith('frontend ')).map((f) => {
    const port = Number(f.match(/bind "\$\{DD_FIPS_LOCAL_ADDRESS\}:(\d+)"/)![1])
    const backend = f.match(/default_backend (\S+)/)![1]
    return [port, body('backend', backend).match(/server-template \S+ \d+ ([^:\s]+):443/)![1]]
  })
}

// Every host the FIXTURE intake answers as (its certificate, the test DNS, /etc/hosts): ours, and
// those of the vendor-dialect config, which keeps the older hosts the vendor's package shipped
// (haproxy-app.agent., dbquery-intake.: product.yaml says why ours moved).
export const fixtureIntakeHosts = (p: Product): string[] => [...new Set([...upstreamHosts(p), ...vendorDialectHosts().map(([, host]) => host)])]

// On a test host (installer-host.ts): the FIXTURE in the served tree, which hosts mount at /srv/repo.
const SERVED_NAME = 'vendor-dialect.cfg'
export const serveVendorDialect = (served: string) => copyFileSync(VENDOR_DIALECT_CONFIG, path.join(served, SERVED_NAME))

// Shell: the FIXTURE as the live config the vendor's package left behind, before ours is installed.
export const keepVendorConfigCommand = (p: Product) => `install -D -m 640 /srv/repo/${SERVED_NAME} ${liveConfig(p)}`

// Shell: a test host has no DNS server, so the FIXTURE's servers take their address from the libc
// (/etc/hosts, which serveFixtureIntake fills), as serveFixtureIntake makes ours do; nothing else changes.
export const vendorResolutionFromLibcCommand = (p: Product) => `sed -i 's/ resolvers my-dns init-addr none / init-addr libc,none /' ${liveConfig(p)}`

// The bundle our package's ca-certificates.crt link names (relative in the package), from its readlink.
export const caBundleLinkTarget = (p: Product, readlink: string) => path.posix.resolve(path.posix.dirname(configDirCaBundle(p)), readlink.trim())
