@testable import Operator
import Testing

@Suite("Reconcile ids")
struct ReconcileContextTests {
    @Test("a pass id is 8 lower-case hex digits, zero-padded")
    func ids() {
        #expect(ReconcileContext.id(0) == "00000000")
        #expect(ReconcileContext.id(0x1f) == "0000001f")
        #expect(ReconcileContext.id(0xdead_beef) == "deadbeef")
        #expect(ReconcileContext.id(0x1000_0000) == "10000000")
        let id = ReconcileContext.newID()
        #expect(id.utf8.count == 8 && id.allSatisfy(\.isHexDigit) && id == id.lowercased())
    }
}
