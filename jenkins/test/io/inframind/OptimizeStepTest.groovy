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

/** inframindOptimize against a loopback server, through httpRequest and through sh + real curl. */
@RunWith(Parameterized)
class OptimizeStepTest {
    @Parameterized.Parameters(name = '{0}')
    static Collection<Object[]> data() {
        return TestSupport.transports()
    }

    private final String transport
    private FakeServer server
    private PipelineHarness h

    OptimizeStepTest(String transport) {
        this.transport = transport
    }

    @Before
    void setUp() {
        server = new FakeServer(TestSupport.TOKEN).start()
        h = TestSupport.harness(transport, server.url())
    }

    @After
    void tearDown() {
        server.stop()
    }

    @Test
    void happyPathExportsTheServersEnvAndPrintsTheRationale() {
        Map s = (Map) h.run('inframindOptimize', [params: [tool: 'cmake', num_steps: 5]])

        assertEquals(5, s.config.concurrency)
        assertEquals('-j5', h.env['MAKEFLAGS'])
        assertEquals('5', h.env['CMAKE_BUILD_PARALLEL_LEVEL'])
        assertEquals('5', h.env['INFRAMIND_CONCURRENCY'])
        assertEquals('4.5', h.env['INFRAMIND_CPU_CORES'])
        assertEquals('5376', h.env['INFRAMIND_MEMORY_MB'])
        assertNull(h.env['INFRAMIND_FALLBACK'])
        assertNull(h.env['INFRAMIND_OFFLINE'])
        String runId = RunIds.derive('team/example-app', '42')
        assertEquals(runId, h.env['INFRAMIND_RUN_ID'])

        // One echo: the summary, every rationale line, what was exported.
        assertEquals(1, h.calls('echo').size())
        String printed = h.log.join('\n')
        assertTrue(printed, printed.contains('History: 300 runs (293 successful).'))
        assertTrue(printed, printed.contains('Suggest 5 jobs, 4.5 cores, 5.25 GiB: predicted 408 s.'))
        assertTrue(printed, printed.contains('5 jobs, 4.5 cores, 5.25 GiB; predicted 408 s +/- 20 s against 535 s'))
        assertTrue(printed, printed.contains('MAKEFLAGS=-j5'))
        assertTrue(TestSupport.warnings(h).isEmpty())

        // /optimize first, then the run is started with the config it will run with.
        assertEquals(['/optimize', '/builds/start'], server.requests*.path)
        Map opt = server.requestsTo('/optimize')[0]
        assertEquals(TestSupport.TOKEN, opt.token)
        assertEquals('application/json', opt.contentType)
        assertEquals('team/example-app', opt.json.pipeline)
        assertEquals([tool: 'cmake', num_steps: 5], opt.json.context)
        assertEquals(RunIds.seed(runId), opt.json.seed as long)
        Map start = server.requestsTo('/builds/start')[0].json
        assertEquals([pipeline: 'team/example-app', tool: 'cmake', run_id: runId,
                      config: [concurrency: 5, cpu_cores: 4.5, memory_bytes: 5637144576L]], start)

        if (transport == 'httpRequest') {
            Map p = (Map) h.calls('httpRequest')[0].args[0]
            assertEquals('100:599', p.validResponseCodes)
            assertEquals(5, p.timeout)
            assertEquals(true, p.quiet)
            assertEquals(server.url() + '/optimize', p.url)
            assertEquals(true, p.customHeaders[0].maskValue)
            assertTrue(h.calls('sh').isEmpty())
        } else {
            assertEquals(2, h.calls('sh').size())
            Map p = (Map) h.calls('sh')[0].args[0]
            assertTrue(p.script.toString().contains('--max-time 5'))
            assertEquals(true, p.returnStdout)
            assertEquals('InfraMind POST /optimize', p.label)
        }
    }

    @Test
    void anAnswerWithoutEnvExportsOnlyTheThreeFromConfig() {
        server.answer('/optimize', 200, '{"config": {"concurrency": 3, "cpu_cores": 2.25, "memory_bytes": 3221225472}, "rationale": ["r"]}')
        h.run('inframindOptimize', [params: [tool: 'cmake']])
        assertEquals('3', h.env['INFRAMIND_CONCURRENCY'])
        assertEquals('2.25', h.env['INFRAMIND_CPU_CORES'])
        assertEquals('3072', h.env['INFRAMIND_MEMORY_MB'])
        assertNull('the library never maps tools itself', h.env['MAKEFLAGS'])
    }

    @Test
    void serverDownPrintsOneWarningAndUsesTheFallback() {
        h.env['INFRAMIND_URL'] = TestSupport.deadUrl()
        h.env.clearWrites()
        Map r = (Map) h.run('inframindOptimize', [params: [tool: 'cmake'], fallback: [MAKEFLAGS: '-j2']])

        assertEquals(true, r.fallback)
        assertEquals([MAKEFLAGS: '-j2'], r.env)
        assertEquals('-j2', h.env['MAKEFLAGS'])
        assertEquals('1', h.env['INFRAMIND_FALLBACK'])
        assertEquals('1', h.env['INFRAMIND_OFFLINE'])
        assertNull(h.env['INFRAMIND_CONCURRENCY'])
        assertNull(h.env['INFRAMIND_RUN_ID'])
        assertEquals('exactly one line in the build log: ' + h.log, 1, h.log.size())
        assertTrue(h.log[0], h.log[0].startsWith('InfraMind: WARNING: no suggestion ('))
        assertTrue(h.log[0], h.log[0].contains('continuing with the fallback MAKEFLAGS=-j2'))
        if (transport == 'curl') {
            assertTrue(h.log[0], h.log[0].contains('connection refused'))
        }
        assertEquals(['INFRAMIND_TOOL', 'MAKEFLAGS', 'INFRAMIND_FALLBACK', 'INFRAMIND_OFFLINE'].sort(), h.env.writtenNames().sort())
    }

    @Test
    void withoutAFallbackMapNothingButTheMarkerIsExported() {
        h.env['INFRAMIND_URL'] = TestSupport.deadUrl()
        h.env.clearWrites()
        h.run('inframindOptimize', [params: [tool: 'cmake']])
        assertEquals('1', h.env['INFRAMIND_FALLBACK'])
        assertEquals(['INFRAMIND_TOOL', 'INFRAMIND_FALLBACK', 'INFRAMIND_OFFLINE'].sort(), h.env.writtenNames().sort())
        assertTrue(h.log[0], h.log[0].endsWith("continuing with the build's own defaults"))
    }

    @Test
    void http500IsOneWarningWithTheServersMessage() {
        server.answer('/optimize', 500, '{"error": {"code": "internal", "message": "model store unreadable", "field": null}}')
        Map r = (Map) h.run('inframindOptimize', [params: [tool: 'cmake']])
        assertEquals(true, r.fallback)
        assertEquals(1, h.log.size())
        assertTrue(h.log[0], h.log[0].contains('POST /optimize answered HTTP 500 internal: model store unreadable'))
        assertNull(h.env['MAKEFLAGS'])
        assertEquals('1', h.env['INFRAMIND_OFFLINE'])
        assertTrue('no run is started after a failed /optimize', server.requestsTo('/builds/start').isEmpty())
    }

    @Test
    void a422NamesTheFieldAndDoesNotMarkTheServiceDown() {
        server.answer('/optimize', 422, '{"error": {"code": "invalid_input", "message": "must be 1 or more", "field": "context.num_steps"}}')
        h.run('inframindOptimize', [params: [tool: 'cmake', num_steps: 0]])
        assertTrue(h.log[0], h.log[0].contains('HTTP 422 invalid_input: must be 1 or more (field context.num_steps)'))
        assertNull(h.env['INFRAMIND_OFFLINE'])
    }

    @Test
    void aSlowServerIsAbandonedAfterTheTimeout() {
        server.answer('/optimize', 200, FakeServer.SAMPLE_SUGGESTION, 30000L)
        long t0 = System.nanoTime()
        Map r = (Map) h.run('inframindOptimize', [params: [tool: 'cmake'], timeout: 1])
        double seconds = (System.nanoTime() - t0) / 1e9d
        // Not a speed claim: the step must come back long before the server's 30 s answer.
        assertTrue('came back after ' + seconds + ' s', seconds < 15d)
        assertEquals(true, r.fallback)
        assertEquals(1, h.log.size())
        assertTrue(h.log[0], h.log[0].contains('InfraMind: WARNING: no suggestion'))
        if (transport == 'curl') {
            assertTrue(h.log[0], h.log[0].contains('no answer within 1 s'))
        } else {
            assertTrue(h.log[0], h.log[0].contains('SocketTimeoutException'))
        }
        assertNull(h.env['MAKEFLAGS'])
    }

    @Test
    void malformedJsonIsOneWarning() {
        server.answer('/optimize', 200, '{"config": {"concurrency": 5,,, not json')
        Map r = (Map) h.run('inframindOptimize', [params: [tool: 'cmake']])
        assertEquals(true, r.fallback)
        assertEquals(1, h.log.size())
        assertTrue(h.log[0], h.log[0].contains('answered 200 with malformed JSON'))
        assertNull(h.env['INFRAMIND_CONCURRENCY'])
    }

    @Test
    void jsonThatIsNotAnObjectIsOneWarning() {
        server.answer('/optimize', 200, '[1, 2]')
        h.run('inframindOptimize', [params: [tool: 'cmake']])
        assertTrue(h.log[0], h.log[0].contains('JSON that is not an object'))
    }

    @Test
    void anAbortOfTheBuildIsRethrownUnchanged() {
        Throwable abort = TestSupport.abort()
        TestSupport.failTransportWith(h, transport, abort)
        try {
            h.run('inframindOptimize', [params: [tool: 'cmake'], fallback: [MAKEFLAGS: '-j2']])
            fail('the abort was swallowed')
        } catch (Throwable t) {
            assertSame(abort, t)
        }
        assertTrue('no warning for an abort: ' + h.log, TestSupport.warnings(h).isEmpty())
        assertNull(h.env['INFRAMIND_FALLBACK'])
    }

    @Test
    void aPlainThreadInterruptIsRethrownToo() {
        Throwable interrupt = new InterruptedException('sleep interrupted')
        TestSupport.failTransportWith(h, transport, interrupt)
        try {
            h.run('inframindOptimize', [params: [tool: 'cmake']])
            fail('the interrupt was swallowed')
        } catch (Throwable t) {
            assertSame(interrupt, t)
        }
    }

    @Test
    void withoutAUrlNothingIsSentAndOneWarningIsPrinted() {
        h.env['INFRAMIND_URL'] = null
        Map r = (Map) h.run('inframindOptimize', [params: [tool: 'cmake']])
        assertEquals(true, r.fallback)
        assertEquals(['InfraMind: WARNING: no suggestion (no server configured (give url: or set INFRAMIND_URL)); ' +
                              "continuing with the build's own defaults"], h.log)
        assertTrue(server.requests.isEmpty())
        assertTrue(h.calls('sh').isEmpty() && h.calls('httpRequest').isEmpty())
    }

    @Test
    void theUrlArgumentWinsOverTheEnvironment() {
        h.env['INFRAMIND_URL'] = TestSupport.deadUrl()
        h.run('inframindOptimize', [params: [tool: 'cmake'], url: server.url() + '/'])
        assertEquals('-j5', h.env['MAKEFLAGS'])
    }

    @Test
    void aRetriedStepStartsTheSameRun() {
        h.run('inframindOptimize', [params: [tool: 'cmake']])
        h.env['INFRAMIND_RUN_ID'] = null
        h.run('inframindOptimize', [params: [tool: 'cmake']])
        List<Map> starts = server.requestsTo('/builds/start')
        assertEquals(2, starts.size())
        assertEquals(starts[0].json, starts[1].json)
        assertEquals(server.requestsTo('/optimize')[0].json, server.requestsTo('/optimize')[1].json)
    }

    @Test
    void theTokenComesFromACredentialsIdThroughWithCredentials() {
        h.env['INFRAMIND_TOKEN'] = null
        h.credentials['inframind-token'] = TestSupport.TOKEN
        h.run('inframindOptimize', [params: [tool: 'cmake'], credentialsId: 'inframind-token'])
        assertEquals('-j5', h.env['MAKEFLAGS'])
        assertEquals(TestSupport.TOKEN, server.requestsTo('/optimize')[0].token)
        assertEquals(2, h.calls('withCredentials').size())
        assertEquals([[$class: 'StringBinding', credentialsId: 'inframind-token', variable: 'INFRAMIND_TOKEN']],
                h.calls('withCredentials')[0].args[0])
        assertNull('the token does not outlive withCredentials', h.env['INFRAMIND_TOKEN'])
        // A credentials-bound token goes through curl even with the plugin: in httpRequest's
        // arguments Jenkins would flag it on every request.
        assertEquals(2, h.calls('sh').size())
        assertTrue(h.calls('httpRequest').isEmpty())
    }

    @Test
    void transportHttpRequestIsHonouredWithACredentialsIdToo() {
        h.env['INFRAMIND_TOKEN'] = null
        h.credentials['inframind-token'] = TestSupport.TOKEN
        h.run('inframindOptimize', [params: [tool: 'cmake'], credentialsId: 'inframind-token', transport: 'httpRequest'])
        if (transport == 'httpRequest') {
            assertEquals('-j5', h.env['MAKEFLAGS'])
            assertEquals(2, h.calls('httpRequest').size())
            assertEquals(true, h.calls('httpRequest')[0].args[0].customHeaders[0].maskValue)
        } else {
            assertEquals(1, h.log.size())
            assertTrue(h.log[0], h.log[0].contains('the HTTP Request plugin is not installed'))
        }
        assertTrue(h.calls('sh').isEmpty())
    }

    @Test
    void transportCurlIsHonouredWithThePluginInstalled() {
        h.run('inframindOptimize', [params: [tool: 'cmake'], transport: 'curl'])
        assertEquals('-j5', h.env['MAKEFLAGS'])
        assertTrue(h.calls('httpRequest').isEmpty())
        assertEquals(2, h.calls('sh').size())
    }

    @Test
    void anUnknownCredentialsIdIsOneWarningNamingIt() {
        h.env['INFRAMIND_TOKEN'] = null
        Map r = (Map) h.run('inframindOptimize', [params: [tool: 'cmake'], credentialsId: 'nope'])
        assertEquals(true, r.fallback)
        assertEquals(1, h.log.size())
        assertTrue(h.log[0], h.log[0].contains('credentials "nope"'))
        assertTrue(server.requests.isEmpty())
    }

    @Test
    void aWrongTokenIsOneWarning() {
        h.env['INFRAMIND_TOKEN'] = 'wrong'
        h.run('inframindOptimize', [params: [tool: 'cmake']])
        assertEquals(1, h.log.size())
        assertTrue(h.log[0], h.log[0].contains('HTTP 401 unauthorized'))
        assertEquals('1', h.env['INFRAMIND_OFFLINE'])
    }

    @Test
    void withoutATokenTheServersRefusalIsOneWarning() {
        h.env['INFRAMIND_TOKEN'] = null
        h.run('inframindOptimize', [params: [tool: 'cmake']])
        assertNull('no token header at all', server.requestsTo('/optimize')[0].token)
        assertEquals(1, h.log.size())
        assertTrue(h.log[0], h.log[0].contains('HTTP 401 unauthorized: missing or wrong X-IM-Token'))
    }

    @Test
    void reservedOrInvalidVariablesFromTheServerAreNotExported() {
        server.answer('/optimize', 200, '{"config": {"concurrency": 2, "cpu_cores": 1, "memory_bytes": 1073741824}, ' +
                '"env": {"INFRAMIND_CONCURRENCY": "2", "PATH": "/evil", "LD_PRELOAD": "/x.so", "BAD NAME": "1", ' +
                '"MULTI": "a\\nb", "JENKINS_URL": "http://x"}}')
        h.run('inframindOptimize', [params: [tool: 'make']])
        assertEquals('2', h.env['INFRAMIND_CONCURRENCY'])
        assertNull(h.env['PATH'])
        assertNull(h.env['LD_PRELOAD'])
        assertNull(h.env['MULTI'])
        assertNull(h.env['JENKINS_URL'])
        assertTrue(h.log[0], h.log[0].contains('not exported (not a variable InfraMind sets, or an invalid value): BAD NAME, JENKINS_URL, LD_PRELOAD, MULTI, PATH'))
    }

    @Test
    void onlyTheVariablesInframindSetsAreExportedFromTheServer() {
        server.answer('/optimize', 200, '{"config": {"concurrency": 4, "cpu_cores": 2, "memory_bytes": 4294967296}, ' +
                '"env": {"INFRAMIND_CONCURRENCY": "4", "GRADLE_OPTS": "-Dorg.gradle.workers.max=4 -Dorg.gradle.jvmargs=-Xmx3072m", ' +
                '"NODE_OPTIONS": "--require /tmp/x.js", "_JAVA_OPTIONS": "-javaagent:/tmp/a.jar", "PERL5OPT": "-Mevil", ' +
                '"MAKEFLAGS": "-j4 --eval=$(shell id)", "INFRAMIND_CPU_CORES": "2; id"}}')
        h.run('inframindOptimize', [params: [tool: 'gradle']])
        assertEquals('4', h.env['INFRAMIND_CONCURRENCY'])
        assertEquals('-Dorg.gradle.workers.max=4 -Dorg.gradle.jvmargs=-Xmx3072m', h.env['GRADLE_OPTS'])
        for (String name : ['NODE_OPTIONS', '_JAVA_OPTIONS', 'PERL5OPT', 'MAKEFLAGS', 'INFRAMIND_CPU_CORES']) {
            assertNull(name, h.env[name])
        }
        assertTrue(h.log[0], h.log[0].contains('not exported (not a variable InfraMind sets, or an invalid value): ' +
                'INFRAMIND_CPU_CORES, MAKEFLAGS, NODE_OPTIONS, PERL5OPT, _JAVA_OPTIONS'))
    }

    @Test
    void aJenkinsfilesOwnFallbackIsNotLimitedToTheServersVariables() {
        server.answer('/optimize', 503, '{"error": {"code": "unavailable", "message": "down"}}')
        h.run('inframindOptimize', [params: [tool: 'make'], fallback: [MY_JOBS: '3']])
        assertEquals('3', h.env['MY_JOBS'])
    }

    @Test
    void aFailedStartStillExportsTheSuggestion() {
        server.answer('/builds/start', 409, '{"error": {"code": "conflict", "message": "run exists with another body", "field": "run_id"}}')
        Map s = (Map) h.run('inframindOptimize', [params: [tool: 'cmake']])
        assertEquals(5, s.config.concurrency)
        assertEquals('-j5', h.env['MAKEFLAGS'])
        assertNull(h.env['INFRAMIND_RUN_ID'])
        assertEquals(1, TestSupport.warnings(h).size())
        assertTrue(h.log[0], h.log[0].contains('starting the run failed'))
        // The stages do not try again (each would get the same conflict): silent from here on.
        assertEquals('1', h.env['INFRAMIND_OFFLINE'])
        assertEquals('ok', h.run('inframindStage', [name: 'compile'], { 'ok' }))
        assertEquals(1, h.log.size())
        assertTrue(server.requestsTo('/builds/step').isEmpty())
    }
}
