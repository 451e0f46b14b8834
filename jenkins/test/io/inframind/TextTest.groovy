package io.inframind

import org.junit.Test

import static org.junit.Assert.*

class TextTest {
    @Test
    void numbersPrintShort() {
        assertEquals('4.5', Text.num(4.5d, 3))
        assertEquals('408', Text.num(408.0d, 0))
        assertEquals('0.25', Text.num(0.25d, 3))
        assertEquals('5', Text.num(5, 0))
        assertEquals('1.33', Text.num(4 / 3, 2))
        assertEquals('?', Text.num(null, 2))
        assertEquals('x', Text.num('x', 2))
        assertEquals('500', Text.num(500, 0))
    }

    @Test
    void oneLineJoinsAndCuts() {
        assertEquals('a b c', Text.oneLine('a\nb\r\n\tc', 100))
        assertEquals('abcdefg...', Text.oneLine('abcdefghijklmnop', 10))
        assertEquals('', Text.oneLine(null, 10))
    }

    @Test
    void redactMasksEveryOccurrence() {
        assertEquals('x **** y ****', Text.redact('x s3cret y s3cret', 's3cret'))
        assertEquals('unchanged', Text.redact('unchanged', ''))
        assertEquals('unchanged', Text.redact('unchanged', null))
        assertNull(Text.redact(null, 'x'))
    }

    @Test
    void tailKeepsWholeLinesFromTheEnd() {
        assertEquals('short', Text.tail('short', 100))
        assertEquals('line3\nline4', Text.tail('line1\nline2\nline3\nline4', 14))
    }

    @Test
    void jsonIsAscii() {
        assertEquals('{"a":"caf\\u00e9 \\u001b[0m"}', Json.write([a: 'caf\u00e9 \u001b[0m']))
        assertEquals([a: 'caf\u00e9 \u001b[0m'], Json.parse(Json.write([a: 'caf\u00e9 \u001b[0m'])))
    }

    @Test
    void interruptsAreFoundByTypeNameAndCause() {
        Throwable abort = new org.jenkinsci.plugins.workflow.steps.FlowInterruptedException('aborted')
        assertSame(abort, Interrupts.find(abort))
        assertSame(abort, Interrupts.find(new IOException('wrapped', abort)))
        assertNull(Interrupts.find(new IOException('plain')))
        assertNull(Interrupts.find(new java.net.SocketTimeoutException('read timed out')))
        assertTrue(Interrupts.isMissingStep(new MissingMethodException('httpRequest', Object, [] as Object[]), 'httpRequest'))
        assertTrue(Interrupts.isMissingStep(new NoSuchMethodError("No such DSL method 'httpRequest' found among steps [sh]"), 'httpRequest'))
        assertFalse(Interrupts.isMissingStep(new MissingMethodException('other', Object, [] as Object[]), 'httpRequest'))
    }
}
