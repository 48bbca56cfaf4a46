// The matrix definition (matrix.yaml): its rows, and where each can run. Shared by the runner
// and the CI file generator, which needs nothing else of the runner.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { parse } from 'yaml'
import { repoRoot } from '../../scripts/lib/paths.ts'
import { loadProduct } from '../../scripts/lib/product.ts'
import { Fields, ValidationError } from '../../scripts/lib/validate.ts'

const MATRIX_FILE = path.join(repoRoot, 'test', 'matrix', 'matrix.yaml')

export interface MatrixRow {
  id: string
  family: string
  release: string
  image: string | null
  format: string
  init: string
  checks: 'install' | 'scriptlets'
  local?: { debootstrap: string; standIn?: StandIn } | 'rpm-root'
}

// An RPM package manager from Debian's archive, in a Debian image standing in for an RPM host.
export type StandIn = 'dnf' | 'zypper'

export function loadMatrix(file = MATRIX_FILE): MatrixRow[] {
  const product = loadProduct()
  const f = new Fields(parse(readFileSync(file, 'utf8')), file, ValidationError)
  return f.list('rows').map((r) => {
    const local = r.get('local')
    return {
      id: r.str('id', /^[a-z0-9.-]+$/),
      family: r.oneOf('family', [...new Set(product.targets.map((t) => t.family))]),
      release: r.str('release'),
      image: r.get('image') === null ? null : r.str('image'),
      format: r.oneOf('format', product.packages.map((f) => f.id)),
      init: r.oneOf('init', ['systemd', 'upstart', 'none']),
      checks: r.oneOf('checks', ['install', 'scriptlets'] as const),
      local: local === undefined ? undefined : local === 'rpm-root' ? 'rpm-root' : {
        debootstrap: r.str('local.debootstrap', /^[a-z]+$/),
        ...(r.get('local.stand_in') === undefined ? {} : { standIn: r.oneOf('local.stand_in', ['dnf', 'zypper'] as const) }),
      },
    }
  })
}

// Where a row runs: in a container of an image built here (debootstrap), in a Debian chroot
// (rpm --root), in a container of its distribution's image from a registry, or nowhere.
export type Placement =
  | { kind: 'debootstrap'; suite: string; standIn?: StandIn }
  | { kind: 'rpm-root' }
  | { kind: 'registry'; image: string }
  | { kind: 'nowhere'; reason: string }

export function placement(row: MatrixRow): Placement {
  if (row.local === 'rpm-root') return { kind: 'rpm-root' }
  if (row.local) return { kind: 'debootstrap', suite: row.local.debootstrap, ...(row.local.standIn ? { standIn: row.local.standIn } : {}) }
  if (!row.image) return { kind: 'nowhere', reason: 'no public image' }
  // Upstart (Ubuntu 14.04) does not boot as a container's PID 1 the way systemd does: it needs a VM.
  if (row.init === 'upstart') return { kind: 'nowhere', reason: 'needs an upstart host (VM), not a container' }
  return { kind: 'registry', image: row.image }
}
