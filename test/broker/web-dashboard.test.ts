/**
 * The web dashboard puts what /cluster, /raft and /messages answer into innerHTML: every
 * value must be escaped, since member ids and message bodies come from the network.
 */
import {expect} from 'chai'
import {DASHBOARD_HTML, escapeHtml} from '../../src/broker/web-dashboard.js'

const HOSTILE = `<img src=x onerror="alert('x')">&`

/** The page's own escape function, taken from its script and run. */
function pageEscape(): (value: unknown) => string {
  const line = DASHBOARD_HTML.split('\n').find((l) => l.startsWith('const text = '))
  expect(line, 'the page defines text()').to.not.equal(undefined)
  return new Function(`return ${line!.slice('const text = '.length)}`)() as (value: unknown) => string
}

describe('web dashboard', () => {
  it('escapes markup, quotes and ampersands', () => {
    expect(escapeHtml(HOSTILE)).to.equal('&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&amp;')
    expect(escapeHtml(null)).to.equal('')
    expect(escapeHtml(42)).to.equal('42')
  })

  it("runs the same escape in the page's script", () => {
    const text = pageEscape()
    for (const value of [HOSTILE, 'plain', 7, null, undefined, '"\'<>&']) expect(text(value)).to.equal(escapeHtml(value))
  })

  it('puts every interpolated value into innerHTML through text()', () => {
    const script = DASHBOARD_HTML.slice(DASHBOARD_HTML.indexOf('<script>'))
    const assignments = script.split(/\.innerHTML = /).slice(1)
    expect(assignments).to.have.length(2)
    for (const assignment of assignments) {
      const expression = assignment.slice(0, assignment.indexOf(".join('')"))
      // With the string literals blanked out, what stands between two `+` is a value.
      const values = expression
        .replace(/'[^']*'/g, "''")
        .split('+')
        .map((part) => part.trim())
        .filter((part) => !part.includes("''"))
      expect(values.length).to.be.at.least(5)
      for (const value of values) expect(value.trim(), `an unescaped value in innerHTML: ${value}`).to.match(/^text\(.*\)$/s)
    }
  })
})
