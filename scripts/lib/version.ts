// Semver to dpkg/rpm versions. A semver pre-release sorts *before* its release; in dpkg and rpm
// "1.2.0-rc.1" would sort after "1.2.0" (and '-' is not allowed in an rpm version), so the
// pre-release separator becomes '~', which sorts before anything in both.
//
// Only pre-releases that dpkg and rpm order exactly like semver are accepted: one of a few words,
// optionally followed by numbers (alpha, beta.2, rc.1.3). Semver orders "rc10" < "rc2" as text and
// numeric identifiers before words, where dpkg and rpm compare digits as numbers and rpm puts
// numbers after words; and dpkg sorts letters before '.', so a word that is a prefix of another
// ("a.1" against "alpha") would sort differently: no allowed word is a prefix of another.
import semver from 'semver'

export class VersionError extends Error {}

export const PRERELEASE_WORDS = ['alpha', 'beta', 'dev', 'pre', 'rc']
const PRERELEASE = new RegExp(`^(${PRERELEASE_WORDS.join('|')})(\\.(0|[1-9]\\d*))*$`)

export function upstreamVersion(version: string): string {
  const v = /^\d/.test(version) ? semver.parse(version) : null
  if (!v) throw new VersionError(`'${version}' is not a semantic version (e.g. 1.2.0 or 1.2.0-rc.1)`)
  if (v.build.length > 0) throw new VersionError(`'${version}': build metadata (+${v.build.join('.')}) has no order in dpkg or rpm; drop it`)
  const pre = v.prerelease.join('.')
  if (pre && !PRERELEASE.test(pre)) {
    throw new VersionError(`'${version}': pre-release '${pre}' must be one of ${PRERELEASE_WORDS.join(', ')} optionally followed by numbers (beta.2, rc.1), so that dpkg and rpm order it like semver`)
  }
  return pre ? `${v.major}.${v.minor}.${v.patch}~${pre}` : `${v.major}.${v.minor}.${v.patch}`
}

export interface PackageVersions {
  deb: string
  rpmVersion: string
  rpmRelease: string
  suseRelease: string
}

export function packageVersions(version: string, release: { iteration: number; suseSuffix: string }): PackageVersions {
  const upstream = upstreamVersion(version)
  return {
    deb: `${upstream}-${release.iteration}`,
    rpmVersion: upstream,
    rpmRelease: String(release.iteration),
    suseRelease: `${release.iteration}${release.suseSuffix}`,
  }
}
