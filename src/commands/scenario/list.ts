import {PadCommand} from '../../cli/pad-command.js'
import {listBuiltins, type BuiltinEntry} from '../../scenario/load.js'

export default class ScenarioList extends PadCommand<{scenarios: {name: string; summary: string}[]}> {
  static override summary = 'List the built-in scenarios: their names and what each shows.'

  static override description = `Each scenario is a file of steps (faults, publishes, waits, checks, narration) that \
pad-cli scenario run plays on a cluster, saying before every step what will happen and what to watch in pad-cli top. \
Write your own as a YAML or JSON file (see docs/scenarios.md) and run it with pad-cli scenario run ./my-scenario.yaml.`

  static override examples = ['<%= config.bin %> scenario list', '<%= config.bin %> scenario list --json']

  async run(): Promise<{scenarios: {name: string; summary: string}[]}> {
    await this.parse(ScenarioList)
    const builtins: BuiltinEntry[] = listBuiltins()
    const width = Math.max(...builtins.map((b) => b.name.length))
    for (const b of builtins) this.log(`${b.name.padEnd(width)}  ${b.summary}`)
    return {scenarios: builtins.map(({name, summary}) => ({name, summary}))}
  }
}
