// CI files for engines with runners (GitHub Actions, GitLab CI), generated from the matrix
// definition. They build once and fan out: one job builds the proxy and the packages (a hit of
// the proxy build cache skips the compile) and hands on, as its artifact, what the rows read
// (row-inputs.ts); then one job per row, in parallel, runs that row only on those outputs with
// `make matrix-prebuilt MATRIX_ROWS=<row>`, which builds nothing, strictly (MATRIX_STRICT=1: a job
// whose row cannot get its image fails rather than passing as not run).
// Every row that can run in a container somewhere is a job: on a runner with a registry the
// rows without `local` pull their distribution's image. The others are named in a comment.
import { type MatrixRow, placement } from './definition.ts'
import { rowInputDirs } from './row-inputs.ts'

const HEADER = '# Generated from test/matrix/matrix.yaml by `make ci-files`; do not edit (a test checks it is current).'
// The proxy build cache survives between pipelines, keyed by what the build depends on.
const CACHE_INPUTS = ['packaging/sources.yaml', 'packaging/templates/openssl.cnf', 'scripts/lib/proxy-build.ts', 'package-lock.json']
// The build job's outputs, in GitHub's artifact as one tar (upload-artifact keeps no file modes).
const ROW_INPUTS_TAR = 'row-inputs.tar'

export const BUILD_JOB = 'build'
export const ROW_JOB = 'distro-matrix'

const jobs = (rows: MatrixRow[]) => rows.filter((r) => placement(r).kind !== 'nowhere')
const rowList = (rows: MatrixRow[]) => `[${jobs(rows).map((r) => r.id).join(', ')}]`

function notJobs(rows: MatrixRow[]): string {
  const reasons = rows.flatMap((r) => {
    const where = placement(r)
    return where.kind === 'nowhere' ? [`${r.id} (${where.reason})`] : []
  })
  return `# Rows that no container runner can run (not jobs): ${reasons.join(', ')}.`
}

const rowCommand = (row: string) => `make matrix-prebuilt MATRIX_ROWS=${row} MATRIX_STRICT=1`

function github(rows: MatrixRow[]): string {
  return `${HEADER}
${notJobs(rows)}
name: distro-matrix
on:
  push:
  pull_request:
jobs:
  ${BUILD_JOB}:
    runs-on: ubuntu-24.04
    # Debian 12 with Node 20, as the toolchain expects.
    container:
      image: node:20-bookworm
    timeout-minutes: 60
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 1
      - uses: actions/cache@v4
        with:
          path: ~/.cache/datadog-fips-proxy
          key: fips-proxy-\${{ hashFiles('${CACHE_INPUTS.join("', '")}') }}
      - run: make packages
      # One tar: upload-artifact keeps no file modes (the trees' executables, the key's 0700).
      - run: tar -cf ${ROW_INPUTS_TAR} ${rowInputDirs().join(' ')}
      - uses: actions/upload-artifact@v4
        with:
          name: row-inputs
          path: ${ROW_INPUTS_TAR}
  ${ROW_JOB}:
    needs: ${BUILD_JOB}
    name: \${{ matrix.row }}
    runs-on: ubuntu-24.04
    # Privileged for the Docker Engine the matrix starts (MATRIX_ENGINE, default docker) and for chroots.
    container:
      image: node:20-bookworm
      options: --privileged
    timeout-minutes: 60
    strategy:
      fail-fast: false
      matrix:
        row: ${rowList(rows)}
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 1
      - uses: actions/download-artifact@v4
        with:
          name: row-inputs
      - run: tar -xf ${ROW_INPUTS_TAR}
      - run: ${rowCommand('${{ matrix.row }}')}
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
# The row jobs start a Docker Engine (MATRIX_ENGINE, default docker) and chroots: they need a privileged runner.
${BUILD_JOB}:
  stage: build
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
  script:
    - make packages
  artifacts:
    paths:
${rowInputDirs().map((d) => `      - ${d}`).join('\n')}
${ROW_JOB}:
  stage: test
  needs:
    - job: ${BUILD_JOB}
      artifacts: true
  image: node:20-bookworm
  timeout: 1h
  parallel:
    matrix:
      - ROW: ${rowList(rows)}
  script:
    - ${rowCommand('${ROW}')}
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
