import {expect} from 'chai'
import {bodyError, parseFormat, topicFromBody} from '../../src/broker/formats.js'

describe('formats', () => {
  describe('parseFormat', () => {
    it('takes JSON, XML and RAW in any case', () => {
      expect(['JSON', 'json', 'Xml', 'raw'].map(parseFormat)).to.deep.equal(['JSON', 'JSON', 'XML', 'RAW'])
    })
    it('refuses anything else', () => {
      expect(['YAML', '', ' json', undefined, 1, null].map(parseFormat)).to.deep.equal([null, null, null, null, null, null])
    })
  })

  describe('bodyError for JSON', () => {
    for (const body of ['{}', '{"a": [1, 2, {"b": null}]}', '[]', '"text"', '42', 'null', ' {"padded": true} ', '{"unicode": "日本 ✓ 🚀"}']) {
      it(`accepts ${body}`, () => {
        expect(bodyError('JSON', body)).to.equal(null)
      })
    }
    for (const body of ['', '{', '{"a": 1,}', "{'a': 1}", 'undefined', '{"a": 1} trailing', 'NaN']) {
      it(`refuses ${JSON.stringify(body)} saying why`, () => {
        expect(bodyError('JSON', body)).to.match(/^body is not valid JSON: .+/)
      })
    }
  })

  describe('bodyError for XML', () => {
    for (const body of [
      '<a/>',
      '<!-- before --><a/><!-- after -->',
      '<?xml version="1.0"?>\n<a/>\n',
      '<msg><Topic>news</Topic></msg>',
      '<?xml version="1.0" encoding="UTF-8"?><order id="7"><item qty="2">tea &amp; cake</item></order>',
      '<a><!-- comment --><b>text</b><![CDATA[ <raw> & ]]></a>',
      '  <padded/>\n',
    ]) {
      it(`accepts ${body.trim()}`, () => {
        expect(bodyError('XML', body)).to.equal(null)
      })
    }
    for (const [body, why] of [
      ['', /it is empty/],
      ['   ', /it is empty/],
      ['plain text', /not well-formed XML/],
      ['<a>', /Unclosed tag 'a'/],
      ['<a></b>', /closing tag/],
      ['<a><b></a></b>', /closing tag/],
      ['<a>x & y</a>', /not well-formed XML/],
      ['<a b=1/>', /Attribute 'b'/],
      ['<a></a><b></b>', /Multiple possible root nodes/],
      // Cases the XML library's validator lets through.
      ['<a/><b/>', /2 root elements/],
      ['<a/><b></b>', /2 root elements/],
      ['<a/>text', /text after the root element/],
    ] as [string, RegExp][]) {
      it(`refuses ${JSON.stringify(body)} saying why`, () => {
        const problem = bodyError('XML', body)
        expect(problem).to.match(/^body is not well-formed XML: /)
        expect(problem).to.match(why)
      })
    }
  })

  it('names the line and column of an XML problem', () => {
    expect(bodyError('XML', '<order>\n  <item></order>')).to.match(/\(line 2, column \d+\)$/)
  })

  describe('bodyError for RAW', () => {
    it('accepts anything, even the empty string and bytes that are not text', () => {
      for (const body of ['', 'hello', '{broken', '<broken', '\u0000\uFFFD']) expect(bodyError('RAW', body)).to.equal(null)
    })
  })

  describe('topicFromBody', () => {
    const cases: [string, 'JSON' | 'XML' | 'RAW', string, string | null][] = [
      ['the JSON Topic field', 'JSON', '{"Topic": "news", "text": "hi"}', 'news'],
      ['a lower-case topic field', 'JSON', '{"topic": "news"}', 'news'],
      ['a Topic one level down', 'JSON', '{"header": {"Topic": "deep"}, "body": 1}', 'deep'],
      ['no Topic two levels down', 'JSON', '{"a": {"b": {"Topic": "too.deep"}}}', null],
      ['a Topic with spaces around it, trimmed', 'JSON', '{"Topic": "  news  "}', 'news'],
      ['a Topic that is not a string', 'JSON', '{"Topic": 7}', null],
      ['an empty Topic', 'JSON', '{"Topic": "  "}', null],
      ['a JSON array', 'JSON', '[{"Topic": "x"}]', 'x'],
      ['a JSON scalar', 'JSON', '"Topic"', null],
      ['invalid JSON', 'JSON', '{"Topic": "news"', null],
      ['the XML <Topic> under the root', 'XML', '<msg><Topic>news</Topic><text>hi</text></msg>', 'news'],
      ['an XML <Topic> one level further down', 'XML', '<msg><header><Topic>deep</Topic></header></msg>', 'deep'],
      ['an XML <Topic> with a declaration and attributes', 'XML', '<?xml version="1.0"?><msg id="1"><Topic lang="en">news</Topic></msg>', 'news'],
      ['an XML root that is the Topic', 'XML', '<Topic>rooted</Topic>', 'rooted'],
      ['XML with no Topic', 'XML', '<msg><text>hi</text></msg>', null],
      ['RAW, which has no structure', 'RAW', '{"Topic": "news"}', null],
    ]
    for (const [what, format, body, topic] of cases) {
      it(`finds ${topic === null ? 'nothing' : JSON.stringify(topic)} for ${what}`, () => {
        expect(topicFromBody(format, body)).to.equal(topic)
      })
    }
  })
})

describe('formats: input built to break parsers', () => {
  const deepXml = (depth: number): string => '<a>'.repeat(depth) + '</a>'.repeat(depth)
  const deepJson = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth)

  it('refuses XML with a DOCTYPE or ENTITY declaration, saying why', () => {
    for (const body of [
      '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
      '<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><r>&b;</r>',
      '<!doctype html><html/>',
      '<r><!ENTITY x "y"></r>',
    ]) {
      expect(bodyError('XML', body)).to.match(/DOCTYPE or ENTITY declaration is refused/)
      expect(topicFromBody('XML', body)).to.equal(null)
    }
  })

  it('refuses XML nested deeper than the bound, however deep, quickly', () => {
    for (const depth of [101, 200, 200_000]) {
      const started = performance.now()
      expect(bodyError('XML', deepXml(depth))).to.match(/nested deeper than 100 elements/)
      expect(topicFromBody('XML', deepXml(depth))).to.equal(null)
      expect(performance.now() - started).to.be.below(200)
    }
    expect(bodyError('XML', deepXml(100))).to.equal(null)
  })

  it('refuses JSON nested deeper than the bound, however deep', () => {
    expect(bodyError('JSON', deepJson(257))).to.match(/nested deeper than 256 levels/)
    expect(bodyError('JSON', deepJson(200_000))).to.match(/nested deeper than 256 levels/)
    expect(bodyError('JSON', '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000))).to.match(/nested deeper/)
    expect(topicFromBody('JSON', deepJson(200_000))).to.equal(null)
    expect(bodyError('JSON', deepJson(256))).to.equal(null)
    // Brackets inside strings are text, not nesting.
    expect(bodyError('JSON', JSON.stringify({s: '['.repeat(5000), t: '\\"[[['}))).to.equal(null)
  })

  it('never throws on random bytes, NUL bytes or broken UTF-8', () => {
    const samples = ['\u0000', '<a>\u0000</a>', '{"a":"\u0000"}', Buffer.from([0xff, 0xfe, 0x3c, 0x61, 0x3e]).toString('utf8'), '<a', '<<<<', ']]]]}}}}', '<![CDATA[', '<!--']
    for (const body of samples) {
      for (const format of ['JSON', 'XML', 'RAW'] as const) {
        expect(() => bodyError(format, body)).to.not.throw()
        expect(() => topicFromBody(format, body)).to.not.throw()
      }
    }
  })
})
