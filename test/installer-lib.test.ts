// The install script's functions, sourced on this host (no container, no build: the script is
// rendered in memory, test/helpers/installer-lib.ts): package specs, parameters, the exit trap,
// values written into datadog.yaml, the recovery of interrupted transactions. Part of make check.
import test from 'ava'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parse } from 'yaml'
import { $ } from 'zx'
import { installerParts } from '../scripts/lib/installer.ts'
import { agentConfig, loadProduct } from '../scripts/lib/product.ts'
import { HOSTILE, renderedInstaller, sourced } from './helpers/installer-lib.ts'

const product = loadProduct()

// Without a container: the script's functions, sourced on this host (which has rpm, with an empty
// database). An Agent rpm hosts lack must read as not installed, or the script would skip installing it.
test('installed_version on an rpm host: nothing for a package that is not installed', async (t) => {
  const r = await $({ nothrow: true, quiet: true, env: { ...process.env, DD_INSTALL_SCRIPT_LIB: '1' } })`bash -c ${'. "$0"; pkg=yum; installed_version datadog-agent-fixture-absent'} ${renderedInstaller()}`
  t.is(r.exitCode, 0, r.stderr)
  t.is(r.stdout, '')
})

// yum and dnf leave an installed package as it is when `install` names it ("already installed"):
// the matrix's dnf row found that re-running the script never upgraded. Installed and unpinned
// packages go to `upgrade` there; apt and zypper upgrade through `install`.
test('queue_package: yum and dnf upgrade installed packages without a pin; other cases install', async (t) => {
  const queued = async (pkg: string, version: string, installed: string) => {
    const r = await $({ quiet: true, env: { ...process.env, DD_INSTALL_SCRIPT_LIB: '1' } })`bash -c ${`. "$0"; pkg=${pkg}; install_specs=""; upgrade_names=""; queue_package datadog-fips-proxy "${version}" "${installed}"; echo "install:$install_specs upgrade:$upgrade_names"`} ${renderedInstaller()}`
    return r.stdout.trim()
  }
  for (const pkg of ['dnf', 'yum']) {
    t.is(await queued(pkg, '', '1.1.0-1'), 'install: upgrade: datadog-fips-proxy', `${pkg}, installed, no pin`)
    t.is(await queued(pkg, '', ''), 'install: datadog-fips-proxy upgrade:', `${pkg}, not installed`)
    t.is(await queued(pkg, '1.1.0-1', '1.0.0-1'), 'install: datadog-fips-proxy-1.1.0-1 upgrade:', `${pkg}, pinned`)
  }
  t.is(await queued('apt', '', '1.1.0-1'), 'install: datadog-fips-proxy upgrade:', 'apt, installed, no pin')
  t.is(await queued('zypper', '', '1.1.0-1'), 'install: datadog-fips-proxy upgrade:', 'zypper, installed, no pin')
})

test('DD_FIPS_PROXY_VERSION: one value for every host; zypper gets the SUSE release suffix', async (t) => {
  const spec = async (pkg: string, version: string) =>
    (await $({ quiet: true, env: { ...process.env, DD_INSTALL_SCRIPT_LIB: '1' } })`bash -c ${`. "$0"; pkg=${pkg}; proxy_version="${version}"; proxy_package_version`} ${renderedInstaller()}`).stdout
  const suffix = product.release.suseSuffix
  t.is(await spec('zypper', '1.1.0-1'), `1.1.0-1${suffix}`)
  t.is(await spec('zypper', '1.1.1~rc.1-2'), `1.1.1~rc.1-2${suffix}`)
  t.is(await spec('zypper', `1.1.0-1${suffix}`), `1.1.0-1${suffix}`, 'given with the suffix: as it is')
  t.is(await spec('zypper', '1.1.0'), '1.1.0', 'no release: any release of the version')
  for (const pkg of ['apt', 'dnf', 'yum']) t.is(await spec(pkg, '1.1.0-1'), '1.1.0-1', pkg)
})

test('DD_AGENT_MINOR_VERSION: 52.1 is that release, 52 the newest 52.x, in each package manager\'s terms', async (t) => {
  const spec = async (pkg: string, minor: string) =>
    (await $({ quiet: true, env: { ...process.env, DD_INSTALL_SCRIPT_LIB: '1' } })`bash -c ${`. "$0"; pkg=${pkg}; agent_minor=${minor}; install_specs=""; upgrade_names=""; agent_package_spec ""; echo $install_specs`} ${renderedInstaller()}`).stdout.trim()
  t.is(await spec('apt', '52.1'), 'datadog-agent=1:7.52.1-1')
  t.is(await spec('apt', '52'), 'datadog-agent=1:7.52.*')
  t.is(await spec('dnf', '52.1'), 'datadog-agent-7.52.1-1')
  t.is(await spec('yum', '52'), 'datadog-agent-7.52.*')
  t.is(await spec('zypper', '52.1'), 'datadog-agent-7.52.1-1')
  t.is(await spec('zypper', '52'), 'datadog-agent>=1:7.52 datadog-agent<1:7.53', 'zypper has no version patterns: a range, with the epoch')
  t.is(await spec('apt', ''), 'datadog-agent')
})


test('DD_AGENT_DIST_CHANNEL picks the repository channel; DD_RPM_REPO_GPGCHECK=0 only the metadata check', async (t) => {
  const repoFile = async (env: Record<string, string>) => (await sourced('read_parameters; arch=x86_64; pkg=dnf; rpm_repo_file rpm', env)).stdout
  const stable = await repoFile({})
  t.regex(stable, new RegExp(`/rpm/${product.repository.channel}/7/x86_64/\n`))
  t.regex(stable, /\ngpgcheck=1\nrepo_gpgcheck=1\n/)
  t.regex(await repoFile({ DD_AGENT_DIST_CHANNEL: 'beta' }), /\/rpm\/beta\/7\/x86_64\/\n/)
  t.regex(await repoFile({ DD_RPM_REPO_GPGCHECK: 'false' }), /\ngpgcheck=1\nrepo_gpgcheck=0\n/, 'the packages\' signatures are still checked')
  const bad = await sourced('read_parameters', { DD_AGENT_DIST_CHANNEL: 'nightly' })
  t.is(bad.exitCode, 6)
  t.regex(bad.stderr, /DD_AGENT_DIST_CHANNEL='nightly' is not a channel \(stable or beta\)/)
  t.is((await sourced('read_parameters', { DD_RPM_REPO_GPGCHECK: 'maybe' })).exitCode, 6)
})

test('DD_UPGRADE needs a datadog.yaml to keep', async (t) => {
  // This host (the build machine) has no Agent: the script's datadog.yaml is not there.
  t.false(existsSync(agentConfig(product)), 'precondition: no Agent on this host')
  const r = await sourced('read_parameters; install_only=true; check_before_changes', { DD_UPGRADE: 'true', DD_FIPS_MODE: '1' })
  t.is(r.exitCode, 6)
  t.regex(r.stderr, /DD_UPGRADE keeps the Agent's configuration, and there is no \/etc\/datadog-agent\/datadog\.yaml/)
})

test('DD_TAGS wins over DD_HOST_TAGS, its older name', async (t) => {
  const tags = async (env: Record<string, string>) =>
    (await $({ quiet: true, env: { ...process.env, DD_INSTALL_SCRIPT_LIB: '1', ...env } })`bash -c ${'. "$0"; read_parameters; echo "$tags"'} ${renderedInstaller()}`).stdout.trim()
  t.is(await tags({ DD_HOST_TAGS: 'a:1' }), 'a:1')
  t.is(await tags({ DD_HOST_TAGS: 'a:1', DD_TAGS: 'b:2' }), 'b:2')
})

test('the generated script is shellcheck-clean and parses with bash -n', async (t) => {
  const script = renderedInstaller()
  t.is((await $({ nothrow: true, quiet: true })`shellcheck -s bash ${script}`).exitCode, 0)
  t.is((await $({ nothrow: true, quiet: true })`bash -n ${script}`).exitCode, 0)
  t.regex((await $({ quiet: true })`head -3 ${script}`).stdout, new RegExp(`install_script_agent7\\.sh ${product.version.replace(/\./g, '\\.')}`))
})


test('on_exit runs every registered cleanup once, the last first, however the script ends', async (t) => {
  for (const end of ['exit 3', 'false', 'kill -TERM $BASHPID']) {
    const r = await sourced(`set -e; trap on_exit EXIT; trap 'exit 143' TERM; one() { echo one; }; two() { echo two; false; }; at_exit one; at_exit two; ${end}`)
    t.is(r.stdout, 'two\none\n', `${end}: both cleanups ran, though the second failed`)
    t.not(r.exitCode, 0, `${end}: the script's status is kept`)
  }
})

// This host has rpm with a database that holds none of our packages (as a fresh RPM host).
test('recover_interrupted_transaction on an RPM host with nothing to finish does nothing', async (t) => {
  const r = await sourced('pkg=dnf; recover_interrupted_transaction; echo finished')
  t.is(r.exitCode, 0, r.stderr)
  t.is(r.stdout, 'finished\n')
})

test('values written into datadog.yaml parse back to exactly what was given', async (t) => {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'values-')), 'datadog.yaml')
  writeFileSync(file, readFileSync(path.join('test', 'fixtures', 'datadog-agent', 'datadog.yaml.example')))
  const r = await sourced([
    'read_parameters', 'workdir=$(mktemp -d)',
    `set_config_key "$1" env "$(yaml_quote "$DD_ENV")"`,
    `set_config_key "$1" tags "$(yaml_tag_list "$tags")"`,
    `set_config_key "$1" hostname "$(yaml_quote "$DD_HOSTNAME")"`,
    `set_config_key "$1" dd_url "$(yaml_quote "$DD_URL")"`,
  ].join('; ').replace(/"\$1"/g, `"${file}"`), HOSTILE)
  t.is(r.exitCode, 0, r.stderr)
  const config = parse(readFileSync(file, 'utf8'))
  t.is(config.env, HOSTILE.DD_ENV)
  t.deepEqual(config.tags, HOSTILE.DD_TAGS.split(','))
  t.is(config.hostname, HOSTILE.DD_HOSTNAME, 'a backslash-n stays a backslash and an n')
  t.is(config.dd_url, HOSTILE.DD_URL)
  t.is(config.fips, undefined, 'no fips key came from a value')
})

test('a value with a control character is refused (exit 6) before anything changes', async (t) => {
  for (const [name, value] of [['DD_HOSTNAME', 'evil\nfips:\n  enabled: false'], ['DD_ENV', 'prod\r'], ['DD_TAGS', 'a:b\tc']]) {
    const r = await sourced('read_parameters', { [name]: value })
    t.is(r.exitCode, 6, name)
    t.regex(r.stderr, new RegExp(`${name} contains a control character`), name)
  }
})


// One section a part, each small enough to read whole; together they are the one template.
test('the install script is assembled from parts of at most 150 lines, each a section of it', (t) => {
  const parts = installerParts()
  t.true(parts.length > 1)
  for (const part of parts) {
    const lines = readFileSync(part, 'utf8').split('\n').length - 1
    t.true(lines <= 150, `${path.basename(part)}: ${lines} lines`)
  }
  t.true(readFileSync(renderedInstaller(), 'utf8').startsWith('#!/bin/bash\n'), 'the first part starts the script')
})
