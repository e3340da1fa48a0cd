import fs from 'node:fs'
import path from 'node:path'
import {pathToFileURL} from 'node:url'
import {expect} from 'chai'

// The committed oclif.manifest.json is what an installed pad-cli reads to find its commands:
// a stale one hides new commands and flags from users. `npm run build` regenerates it.

interface ManifestCommand {
  id: string
  summary?: string
  aliases: string[]
  flags: Record<string, unknown>
  args: Record<string, unknown>
}

function commandFiles(dir: string, prefix = ''): {id: string; file: string}[] {
  const found: {id: string; file: string}[] = []
  for (const entry of fs.readdirSync(dir, {withFileTypes: true})) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) found.push(...commandFiles(full, `${prefix}${entry.name}:`))
    else if (entry.name.endsWith('.ts')) {
      const name = entry.name.slice(0, -3)
      found.push({id: name === 'index' ? prefix.slice(0, -1) : `${prefix}${name}`, file: full})
    }
  }
  return found
}

describe('oclif.manifest.json', () => {
  const manifest = JSON.parse(fs.readFileSync('oclif.manifest.json', 'utf8')) as {commands: Record<string, ManifestCommand>}
  const sources = commandFiles('src/commands')

  it('lists exactly the commands in src/commands', () => {
    expect(Object.keys(manifest.commands).sort()).to.deep.equal(sources.map((s) => s.id).sort())
  })

  for (const {id, file} of commandFiles('src/commands')) {
    it(`matches the flags, args and summary of "${id}"`, async () => {
      const command = (await import(pathToFileURL(path.resolve(file)).href)).default
      const entry = manifest.commands[id]
      expect(entry, `${id} is missing from the manifest: run npm run build`).to.not.equal(undefined)
      // The flags a command takes: its own and its base class's (--json, from PadCommand).
      expect(Object.keys(entry.flags).sort()).to.deep.equal(Object.keys({...command.baseFlags, ...command.flags}).sort())
      expect(Object.keys(entry.args).sort()).to.deep.equal(Object.keys(command.args ?? {}).sort())
      expect(entry.summary).to.equal(command.summary)
      expect(entry.aliases ?? []).to.deep.equal(command.aliases ?? [])
    })
  }
})
