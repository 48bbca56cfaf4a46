// CI files for engines with runners (GitHub Actions, GitLab CI), generated from the matrix
// definition: one job per row, in parallel, each running `make matrix MATRIX_ROWS=<row>` strictly
// (MATRIX_STRICT=1: a job whose row cannot get its image fails rather than passing as not run).
// Every row that can run in a container somewhere is a job: on a runner with a registry the
// rows without `local` pull their distribution's image. The others are named in a comment.
import { type MatrixRow, placement } from './definition.ts'

const HEADER = '# Generated from test/matrix/matrix.yaml by `make ci-files`; do not edit (a test checks it is current).'
// The proxy build cache survives between pipelines, keyed by what the build depends on.
const CACHE_INPUTS = ['packaging/sources.yaml', 'packaging/templates/openssl.cnf', 'scripts/lib/proxy-build.ts', 'package-lock.json']

const jobs = (rows: MatrixRow[]) => rows.filter((r) => placement(r).kind !== 'nowhere')

function notJobs(rows: MatrixRow[]): string {
  const reasons = rows.flatMap((r) => {
    const where = placement(r)
    return where.kind === 'nowhere' ? [`${r.id} (${where.reason})`] : []
  })
  return `# Rows that no container runner can run (not jobs): ${reasons.join(', ')}.`
}

function github(rows: MatrixRow[]): string {
  return `${HEADER}
${notJobs(rows)}
name: distro-matrix
on:
  push:
  pull_request:
jobs:
  matrix:
    name: \${{ matrix.row }}
    runs-on: ubuntu-24.04
    # Debian 12 with Node 20, as the toolchain expects; privileged for the Docker Engine the matrix
    # starts (MATRIX_ENGINE, default docker) and for chroots.
    container:
      image: node:20-bookworm
      options: --privileged
    timeout-minutes: 60
    strategy:
      fail-fast: false
      matrix:
        row: [${jobs(rows).map((r) => r.id).join(', ')}]
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 1
      - uses: actions/cache@v4
        with:
          path: ~/.cache/datadog-fips-proxy
          key: fips-proxy-\${{ hashFiles('${CACHE_INPUTS.join("', '")}') }}
      - run: make deps
      - run: make matrix MATRIX_ROWS=\${{ matrix.row }} MATRIX_STRICT=1
      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: matrix-\${{ matrix.row }}
          path: dist/matrix/
`
}

function gitlab(rows: MatrixRow[]): string {
  return `${HEADER}
${notJobs(rows)}
# The jobs start a Docker Engine (MATRIX_ENGINE, default docker) and chroots: they need a privileged runner.
distro-matrix:
  image: node:20-bookworm
  timeout: 1h
  variables:
    DD_FIPS_CACHE_DIR: \${CI_PROJECT_DIR}/.cache/datadog-fips-proxy
  cache:
    key:
      files:
${CACHE_INPUTS.slice(0, 2).map((f) => `        - ${f}`).join('\n')}
    paths:
      - .cache/datadog-fips-proxy
  parallel:
    matrix:
      - ROW: [${jobs(rows).map((r) => r.id).join(', ')}]
  script:
    - make deps
    - make matrix MATRIX_ROWS=\${ROW} MATRIX_STRICT=1
  artifacts:
    when: always
    paths:
      - dist/matrix/
    reports:
      junit: dist/matrix/junit.xml
`
}

export function ciFiles(rows: MatrixRow[]): Record<string, string> {
  return { '.github/workflows/matrix.yml': github(rows), '.gitlab-ci.yml': gitlab(rows) }
}
