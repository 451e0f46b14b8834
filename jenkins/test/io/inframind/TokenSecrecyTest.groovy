package io.inframind

import io.inframind.test.FakeServer
import io.inframind.test.PipelineHarness
import io.inframind.test.TestSupport
import org.junit.After
import org.junit.Before
import org.junit.Test
import org.junit.runner.RunWith
import org.junit.runners.Parameterized

import static org.junit.Assert.*

/**
 * The token never shows: not in the log (echo, sh output, warnings), not in a script, not in a
 * step's displayed arguments, not in an exception, not on curl's command line, not in what is
 * sent as a log tail; in every outcome (success, errors, down, slow, credentials ID).
 */
@RunWith(Parameterized)
class TokenSecrecyTest {
    @Parameterized.Parameters(name = '{0}')
    static Collection<Object[]> data() {
        return TestSupport.transports()
    }

    private final String transport
    private FakeServer server
    private PipelineHarness h
    private File spyDir
    private File argvLog

    TokenSecrecyTest(String transport) {
        this.transport = transport
    }

    @Before
    void setUp() {
        server = new FakeServer(TestSupport.TOKEN).start()
        h = TestSupport.harness(transport, server.url())
        // A `curl` first on PATH that records its command line, then runs the real curl.
        spyDir = File.createTempDir()
        argvLog = new File(spyDir, 'argv.log')
        File spy = new File(spyDir, 'curl')
        String realCurl = ['/usr/bin/curl', '/bin/curl', '/usr/local/bin/curl'].find { new File(it).canExecute() }
        spy.text = '#!/bin/sh\nprintf "%s\\n" "$*" >> ' + argvLog.absolutePath + '\nexec ' + realCurl + ' "$@"\n'
        spy.setExecutable(true)
        h.env['PATH'] = spyDir.absolutePath + ':' + System.getenv('PATH')
        tmp = new File(spyDir, 'tmp')
        tmp.mkdirs()
        h.env['TMPDIR'] = tmp.absolutePath
    }

    private File tmp

    @After
    void tearDown() {
        server.stop()
        spyDir.deleteDir()
    }

    private void wholeBuild(String result) {
        h.currentBuild.currentResult = result
        h.currentBuild.logLines = ['+ echo ' + TestSupport.TOKEN, 'make: *** [all] Error 1']
        h.run('inframindOptimize', [params: [tool: 'cmake']])
        h.run('inframindStage', [name: 'compile'], { 'ok' })
        try {
            h.run('inframindStage', [name: 'test'], { throw new IllegalStateException('tests failed') })
        } catch (IllegalStateException expected) {
            // the body's own failure
        }
        h.run('inframindNotify')
    }

    private void assertTokenNeverShown() {
        String text = h.allRecordedText()
        assertFalse('the token shows in:\n' + text, text.contains(TestSupport.TOKEN))
        for (Map call : h.calls('sh')) {
            String script = ((Map) call.args[0]).script
            assertTrue('an sh script without #! would run under set -x', script.startsWith('#!/bin/sh'))
        }
        for (Map call : h.calls('httpRequest')) {
            for (Object header : ((Map) call.args[0]).customHeaders) {
                assertEquals('the token header is masked', true, header.maskValue)
            }
            assertFalse(((Map) call.args[0]).url.toString().contains(TestSupport.TOKEN))
        }
        if (argvLog.exists()) {
            assertFalse('the token is on curl\'s command line', argvLog.text.contains(TestSupport.TOKEN))
        }
        for (Map r : server.requests) {
            assertFalse('sent in a body', r.body.toString().contains(TestSupport.TOKEN))
        }
        assertEquals('the curl script leaves no temporary file', [], tmp.list().toList())
    }

    @Test
    void aWholeBuildWithTheTokenInTheEnvironment() {
        wholeBuild('FAILURE')
        assertEquals('every request carried the token', 5, server.requests.count { it.token == TestSupport.TOKEN })
        if (transport == 'curl') {
            assertEquals('curl really ran', 5, argvLog.readLines().size())
        }
        String tail = server.requestsTo('/builds/complete')[0].json.log_tail
        assertTrue(tail, tail.contains('+ echo ****'))
        assertTokenNeverShown()
    }

    @Test
    void aWholeBuildWithTheTokenFromACredentialsId() {
        h.env['INFRAMIND_TOKEN'] = null
        h.env['INFRAMIND_CREDENTIALS_ID'] = 'im-token'
        h.credentials['im-token'] = TestSupport.TOKEN
        wholeBuild('SUCCESS')
        assertEquals(5, server.requests.count { it.token == TestSupport.TOKEN })
        assertTokenNeverShown()
    }

    @Test
    void aServerThatEchoesTheTokenInItsErrors() {
        String leak = '{"error": {"code": "unauthorized", "message": "token ' + TestSupport.TOKEN + ' is revoked", "field": null}}'
        server.answer('/optimize', 500, leak).answer('/builds/step', 500, leak).answer('/builds/start', 500, leak)
        wholeBuild('FAILURE')
        assertTrue(h.log.join('\n'), h.log.any { it.contains('token **** is revoked') })
        assertTokenNeverShown()
    }

    @Test
    void aServerThatIsDown() {
        h.env['INFRAMIND_URL'] = TestSupport.deadUrl()
        wholeBuild('FAILURE')
        assertEquals(1, TestSupport.warnings(h).size())
        assertTokenNeverShown()
    }

    @Test
    void aServerThatIsSlow() {
        server.answer('/optimize', 200, FakeServer.SAMPLE_SUGGESTION, 30000L)
        h.env['INFRAMIND_TIMEOUT'] = '1'
        wholeBuild('FAILURE')
        assertTokenNeverShown()
    }

    @Test
    void aServerThatAnswersGarbage() {
        server.answer('/optimize', 200, 'not json ' + TestSupport.TOKEN)
        server.answer('/builds/start', 201, 'not json ' + TestSupport.TOKEN)
        server.answer('/builds/complete', 502, '<html>' + TestSupport.TOKEN + '</html>')
        wholeBuild('FAILURE')
        assertTokenNeverShown()
    }

    @Test
    void aTokenWithAQuoteGoesThroughHttpRequestAndIsRefusedByCurlWithoutShowingIt() {
        String odd = 'tok"with\\quote-SECRET'
        FakeServer other = new FakeServer(odd).start()
        try {
            h.env['INFRAMIND_TOKEN'] = odd
            h.env['INFRAMIND_URL'] = other.url()
            h.run('inframindOptimize', [params: [tool: 'cmake']])
            if (transport == 'curl') {
                // curl's config syntax cannot carry it safely: refused before anything is sent.
                assertEquals(1, h.log.size())
                assertTrue(h.log[0], h.log[0].contains('the token contains a quote, a backslash or a line break'))
                assertTrue(other.requests.isEmpty())
            } else {
                assertEquals('-j5', h.env['MAKEFLAGS'])
                assertEquals(odd, other.requestsTo('/optimize')[0].token)
            }
            assertFalse(h.allRecordedText().contains(odd))
        } finally {
            other.stop()
        }
    }

    @Test
    void anUnknownCredentialsId() {
        h.env['INFRAMIND_CREDENTIALS_ID'] = 'missing'
        wholeBuild('FAILURE')
        assertTokenNeverShown()
    }
}
