// A live config in the vendor's dialect on a Debian systemd host (installer-host.ts): left behind by
// the vendor's package (no package owns the live config), then our package installed over it by the
// install script. The config is kept as it is, our package's ca-certificates.crt link is what its
// `ca-file ca-certificates.crt` finds, the proxy runs on it and relays to the FIXTURE intake; the
// install's self-check names the one port of the range the vendor's layout leaves unbound.
import test from 'ava'
import { configDirCaBundle, liveConfig, loadProduct, runHaproxyPath } from '../scripts/lib/product.ts'
import { PLATFORMS } from './matrix/platforms.ts'
import { fipsInstallEnv, serveFixtureIntake, withInstallerHost } from './helpers/installer-host.ts'
import { caBundleLinkTarget, keepVendorConfigCommand, vendorDialectHosts, vendorResolutionFromLibcCommand } from './helpers/vendor-dialect.ts'

const product = loadProduct()
const deb = product.packages.find((f) => f.kind === 'deb')!
const RESERVED_PORT = product.ports.services.find((s) => s.kind === 'reserved')!.port

test.serial("Debian host: a vendor-dialect live config is kept by our package's install, and the proxy runs on it and relays", async (t) => {
  await withInstallerHost(async (h) => {
    t.is((await h.sh(keepVendorConfigCommand(product))).code, 0)
    const before = (await h.sh(`sha256sum < ${liveConfig(product)}`)).out
    const install = await h.install(fipsInstallEnv(product))
    // The install script ends with the self-check: the vendor's layout binds nothing on the
    // reserved port, which the Agent never uses, so the check says so as INFO and fails nothing (the
    // backends' lines are this host's lack of DNS, which the script tolerates).
    t.is(install.code, 0, install.out)
    t.deepEqual(install.out.split('\n').filter((l) => /^ *FAIL /.test(l) && !/FAIL {2}backend /.test(l)), [], 'no check of the host fails')
    t.regex(install.out, new RegExp(`INFO +port ${RESERVED_PORT} +nothing listens on ${RESERVED_PORT} \\(appsec, reserved`))
    t.is((await h.sh(`sha256sum < ${liveConfig(product)}`)).out, before, 'the live config is kept as it was')
    t.is(caBundleLinkTarget(product, (await h.sh(`readlink ${configDirCaBundle(product)}`)).out), deb.caBundle, "our package's link to the family's bundle")
    t.is((await h.sh(`dpkg -S ${configDirCaBundle(product)}`)).out, `${product.name}: ${configDirCaBundle(product)}\n`, 'owned by the package')
    const checked = await h.sh(`${runHaproxyPath(product)} -c -f ${liveConfig(product)} 2>&1`)
    t.is(checked.code, 0, checked.out)
    t.is((await h.sh(`systemctl is-active ${product.name}`)).out, 'active\n')

    t.is((await h.sh(vendorResolutionFromLibcCommand(product))).code, 0)
    const served = await serveFixtureIntake(h, product, PLATFORMS.deb.trustCa)
    t.is(served.code, 0, served.out + served.err)
    for (const [port, host] of vendorDialectHosts()) {
      let answer = ''
      for (let i = 0; i < 20 && !/s_server -accept/.test(answer); i++) answer = (await h.sh(`sleep 0.3; curl -s -m 5 http://127.0.0.1:${port}/vendor`)).out
      t.regex(answer, /s_server -accept/, `${port} relays to the TLS intake as ${host}`)
    }
  })
})
