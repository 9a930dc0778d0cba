import Testing
@testable import NEDBFormat

@Suite struct JSONTests {
    @Test(arguments: [
        (0.0, "0"), (-0.0, "0"), (1.0, "1"), (-1.5, "-1.5"), (100.0, "100"), (123456789.0, "123456789"),
        (1e21, "1e+21"), (1e20, "100000000000000000000"), (1e-7, "1e-7"), (1e-6, "0.000001"), (0.1, "0.1"),
        (5e-324, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308"), (333333333.33333329, "333333333.3333333"),
        (4.5, "4.5"), (2e-3, "0.002"), (0.000001, "0.000001"), (1.23e-10, "1.23e-10"), (9007199254740992.0, "9007199254740992"),
        (295147905179352830000.0, "295147905179352830000"), (-1e+30, "-1e+30"),
    ])
    func numbersFormatLikeECMAScript(value: Double, text: String) {
        #expect(JCS.formatNumber(value) == text)
    }

    @Test func rfc8785ExampleCanonicalises() throws {
        // The example of RFC 8785 §3.2.2 (numbers, literals, string escapes).
        let input = #"{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/", "literals": [null, true, false]}"#
        let expected = #"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
        #expect(String(decoding: try JCS.canonicalize(input), as: UTF8.self) == expected)
    }

    @Test func keysSortByUTF16CodeUnits() throws {
        let input = #"{"\u20ac": 1, "\ud83d\ude00": 2, "\u0080": 3, "a": 4, "A": 5, "\ufb33": 6}"#
        let out = String(decoding: try JCS.canonicalize(input), as: UTF8.self)
        #expect(out == "{\"A\":5,\"a\":4,\"\u{80}\":3,\"€\":1,\"😀\":2,\"\u{FB33}\":6}")
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\":1,}", "01", "1.", ".5", "-", "1e", "\"\\x\"", "\"a", "tru", "nul", "[1 2]",
        "{\"a\" 1}", "{\"a\":1,\"a\":2}", "\"\\ud800\"", "\"\\udc00x\"", "1e999", "\"\u{01}\"", "{} x",
    ])
    func invalidJSONIsRejectedWithAnOffset(text: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(text) }
    }

    @Test func deepNestingIsRejectedNotCrashing() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(deep) }
    }

    @Test func roundTripIsStable() throws {
        let text = #"{"z":[1,2,{"y":"\u00e9\n"}],"a":{"b":null,"c":-0.5e3},"emoji":"🦀"}"#
        let once = try JCS.canonicalize(text)
        let twice = JCS.serialize(try JSONParser.parse(once))
        #expect(once == twice)
        #expect(String(decoding: once, as: UTF8.self) == #"{"a":{"b":null,"c":-500},"emoji":"🦀","z":[1,2,{"y":"é\n"}]}"#)
    }

    @Test func invalidUTF8IsRejected() {
        #expect(throws: JSONParseError.self) { try JSONParser.parse([0x22, 0xC3, 0x28, 0x22]) }
    }
}

/// Integer literals a double cannot hold exactly are refused, naming the field; those it holds
/// exactly (the canonical RFC 8785 form of large doubles among them) are kept.
@Suite struct ExactIntegerTests {
    @Test(arguments: [
        ("9007199254740992", true), ("9007199254740993", false), ("-9007199254740993", false),
        ("18014398509481984", true), ("18014398509481985", false), ("100000000000000000000", true),
        ("123456789012345678901234", false), ("1e20", true), ("9007199254740993.0", true),
        ("501184467440737100000", true), ("501184467440737095516160", false),
    ])
    func integersBeyondTwoToThe53(text: String, accepted: Bool) throws {
        let json = "{\"a\": {\"b\": [0, " + text + "]}}"
        switch Result(catching: { () throws(JSONParseError) -> JSONValue in try JSONParser.parse(json) }) {
        case let .success(v):
            #expect(accepted, "\(text) was accepted")
            // What is kept survives canonicalisation exactly.
            #expect(try JSONParser.parse(JCS.serialize(v)) == v)
        case let .failure(error):
            #expect(!accepted, "\(text): \(error)")
            #expect(error.message.contains("field \"a.b[1]\"") && error.message.contains("2^53") && error.message.contains("stored as"), "\(error)")
        }
    }
}
