package io.inframind

import org.junit.Test

import static org.junit.Assert.*

class InframindConfigTest {
    @Test
    void argumentsWinOverTheEnvironment() {
        InframindConfig c = InframindConfig.resolve([url: 'http://a:1/', timeout: 9, credentialsId: 'id1'],
                [INFRAMIND_URL: 'http://b:2', INFRAMIND_TIMEOUT: '3', INFRAMIND_CREDENTIALS_ID: 'id2'])
        assertEquals('http://a:1', c.url)
        assertEquals(9, c.timeoutS)
        assertEquals('id1', c.credentialsId)
        assertNull(c.problem)
    }

    @Test
    void theEnvironmentIsTheDefault() {
        InframindConfig c = InframindConfig.resolve([:], [INFRAMIND_URL: 'https://im.example.com/api', INFRAMIND_TIMEOUT: '3'])
        assertEquals('https://im.example.com/api', c.url)
        assertEquals(3, c.timeoutS)
        assertNull(c.credentialsId)
        assertEquals('auto', c.transport)
    }

    @Test
    void aMissingOrBadUrlIsAProblemThatDoesNotPrintTheUrl() {
        assertTrue(InframindConfig.resolve([:], [:]).problem.contains('INFRAMIND_URL'))
        InframindConfig c = InframindConfig.resolve([url: "ftp://user:pw@host"], [:])
        assertNull(c.url)
        assertFalse(c.problem, c.problem.contains('pw'))
        assertNotNull(InframindConfig.resolve([url: "http://host/'; rm -rf /"], [:]).problem)
    }

    @Test
    void badTimeoutsFallBackToTheDefault() {
        for (String t : ['0', '-1', 'abc', '1000', '']) {
            assertEquals(t, 5, InframindConfig.resolve([url: 'http://h'], [INFRAMIND_TIMEOUT: t]).timeoutS)
        }
        assertEquals(120, InframindConfig.timeoutOf('120'))
    }

    @Test
    void transportIsAutoUnlessNamed() {
        assertEquals('curl', InframindConfig.resolve([transport: 'curl'], [:]).transport)
        assertEquals('httpRequest', InframindConfig.resolve([:], [INFRAMIND_TRANSPORT: 'httpRequest']).transport)
        assertEquals('auto', InframindConfig.resolve([transport: 'carrier-pigeon'], [:]).transport)
    }
}
