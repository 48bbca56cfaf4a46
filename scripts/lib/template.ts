import { readFileSync } from 'node:fs'
import path from 'node:path'
import { PACKAGING } from './paths.ts'

// A template of packaging/templates/.
export const packagingTemplate = (name: string) => readFileSync(path.join(PACKAGING, 'templates', name), 'utf8')

// The one template syntax of the project: @NAME@ placeholders, all of which must be given.
export function render(template: string, values: Record<string, string | number>, name = 'template'): string {
  return template.replace(/@([A-Z][A-Z0-9_]*)@/g, (whole, key: string) => {
    if (!(key in values)) throw new Error(`${name}: no value for placeholder ${whole}`)
    return String(values[key])
  })
}

// Word-wraps prose (a package description) to lines of at most `width` characters.
export function wrap(text: string, width: number): string[] {
  const lines: string[] = []
  for (const word of text.trim().split(/\s+/)) {
    const last = lines.length - 1
    if (last >= 0 && lines[last].length + 1 + word.length <= width) lines[last] += ` ${word}`
    else lines.push(word)
  }
  return lines
}
