// Reading keys of a datadog.yaml the way the product does: with its one reader
// (packaging/datadog-yaml.awk, mode=get), one awk run per key, in one shell command. Each key comes
// back as a `key=value` line; a value of several lines has '|' for each line break, so that
// nothing of it is lost or read as another key.

// The sh program: $0 the reader, $1 the datadog.yaml, $2 the awk command, then the keys.
const PROGRAM = 'f=$1 a=$2; shift 2; for k; do printf "%s=" "$k"; $a -v mode=get -v key="$k" -f "$0" "$f" | tr "\\n" "|"; echo; done'

const quoted = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`

// The shell command that prints `key=value` for each key of yamlFile, read by the reader at awkFile.
export const readKeysCommand = (awkFile: string, yamlFile: string, keys: string[], awk = 'awk'): string =>
  ['sh', '-c', PROGRAM, awkFile, yamlFile, awk, ...keys].map(quoted).join(' ')

// Its output as key -> value (the last line break of a value, which awk's print adds, dropped).
export const parseKeys = (out: string): Record<string, string> =>
  Object.fromEntries(out.split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1).replace(/\|$/, '')]))
