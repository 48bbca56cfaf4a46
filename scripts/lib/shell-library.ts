// The shell library (packaging/shell-library.sh) and its linker. The library holds one definition
// per concern (create the user, generate fipsmodule.cnf, read datadog.yaml, detect the init
// system, ...); every shell script the product ships or generates (the maintainer scripts, the
// install script, the self-check, the container entrypoint, HAProxy's launcher) gets exactly the
// definitions it uses, following uses between definitions, where its @FUNCTIONS@ line stands.
// A name the script defines itself is its own: the library's definition of it is not linked.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { PACKAGING } from './paths.ts'
import { type Product, templateValues } from './product.ts'
import { render } from './template.ts'

interface Definition {
  name: string
  text: string
}

// One definition per blank-line separated block: `name() { ... }` or `name=value`, with its comments.
function parseDefinitions(library: string): Definition[] {
  return library
    .split(/\n\s*\n/)
    .map((text) => ({ text: text.trim(), name: text.match(/^(\w+)(?:\(\)|=)/m)?.[1] ?? '' }))
    .filter((d) => d.name !== '')
}

const uses = (text: string, name: string) => new RegExp(`(^|[^\\w$])${name}\\b|\\$\\{?${name}\\b`).test(text.replace(/^\s*#.*$/gm, ''))
const defines = (text: string, name: string) => new RegExp(`^${name}\\(\\)`, 'm').test(text)

// The definitions a script needs, following uses between definitions, in the library's order.
export function definitionsFor(script: string, p: Product): string {
  const library = shellLibrary(p).filter((d) => !defines(script, d.name))
  const needed = new Set<string>()
  const visit = (text: string) => {
    for (const d of library) {
      if (!needed.has(d.name) && uses(text, d.name)) {
        needed.add(d.name)
        visit(d.text.replace(new RegExp(`^${d.name}(\\(\\)|=)`, 'm'), ''))
      }
    }
  }
  visit(script)
  return library.filter((d) => needed.has(d.name)).map((d) => d.text).join('\n\n')
}

// The library rendered for the product.
function shellLibrary(p: Product): Definition[] {
  return parseDefinitions(render(readFileSync(path.join(PACKAGING, 'shell-library.sh'), 'utf8'), templateValues(p), 'shell-library.sh'))
}

// Renders a whole script whose @FUNCTIONS@ line receives the library's definitions it uses.
export function linkShellLibrary(p: Product, template: string, values: Record<string, string | number>, name: string): string {
  const body = render(template, { ...values, FUNCTIONS: '@FUNCTIONS@' }, name)
  return body.replace('@FUNCTIONS@', () => definitionsFor(body, p))
}
