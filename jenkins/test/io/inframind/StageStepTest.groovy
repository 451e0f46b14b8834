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

/** inframindStage: timing, reporting in a finally, the body's exception untouched, fail-open telemetry. */
@RunWith(Parameterized)
class StageStepTest {
    @Parameterized.Parameters(name = '{0}')
    static Collection<Object[]> data() {
        return TestSupport.transports()
    }

    private final String transport
    private FakeServer server
    private PipelineHarness h

    StageStepTest(String transport) {
        this.transport = transport
    }

    @Before
    void setUp() {
        server = new FakeServer(TestSupport.TOKEN).start()
        h = TestSupport.harness(transport, server.url())
        h.env['INFRAMIND_RUN_ID'] = 'run-7'
    }

    @After
    void tearDown() {
        server.stop()
    }

    @Test
    void theBodyRunsIsTimedAndReported() {
        Object result = h.run('inframindStage', [name: 'compile'], {
            h.binding.getVariable('sh').call('sleep 0.2')
            return 'built'
        })
        assertEquals('built', result)
        List<Map> steps = server.requestsTo('/builds/step')
        assertEquals(1, steps.size())
        Map body = steps[0].json
        assertEquals('run-7', body.run_id)
        assertEquals('compile', body.name)
        assertEquals('success', body.status)
        assertTrue('duration ' + body.duration_s, (body.duration_s as double) >= 0.2d)
        assertEquals('only the body\'s own sh trace is in the log', ['+ sleep 0.2'], h.log)
    }

    @Test
    void theStageNameIsTheDefaultName() {
        h.env['STAGE_NAME'] = 'Build'
        h.run('inframindStage', [:], { 'ok' })
        assertEquals('Build', server.requestsTo('/builds/step')[0].json.name)
    }

    @Test
    void measuredMetricsAreSentAndNothingElse() {
        h.run('inframindStage', [name: 'test', metrics: [cache_hits: 10, cache_misses: 2, bogus: 1, max_rss_bytes: 'x']], { 'ok' })
        Map body = server.requestsTo('/builds/step')[0].json
        assertEquals(10, body.cache_hits)
        assertEquals(2, body.cache_misses)
        assertFalse(body.containsKey('bogus'))
        assertFalse(body.containsKey('max_rss_bytes'))
    }

    @Test
    void aFailingBodyPropagatesTheSameExceptionAndTheStepIsStillReported() {
        RuntimeException boom = new IllegalStateException('make: *** [all] Error 2')
        try {
            h.run('inframindStage', [name: 'compile'], { throw boom })
            fail('the body exception was swallowed')
        } catch (Throwable t) {
            assertSame(boom, t)
        }
        List<Map> steps = server.requestsTo('/builds/step')
        assertEquals(1, steps.size())
        assertEquals('failure', steps[0].json.status)
    }

    @Test
    void aFailingShInTheBodyPropagatesUnchanged() {
        try {
            h.run('inframindStage', [name: 'compile'], { h.binding.getVariable('sh').call('exit 3') })
            fail('the body exception was swallowed')
        } catch (IllegalStateException e) {
            assertEquals('script returned exit code 3', e.message)
        }
        assertEquals('failure', server.requestsTo('/builds/step')[0].json.status)
    }

    @Test
    void anAbortedBodyIsRethrownAndReportedCancelled() {
        Throwable abort = TestSupport.abort()
        try {
            h.run('inframindStage', [name: 'compile'], { throw abort })
            fail('the abort was swallowed')
        } catch (Throwable t) {
            assertSame(abort, t)
        }
        assertEquals('cancelled', server.requestsTo('/builds/step')[0].json.status)
    }

    @Test
    void aFailingBodyWinsOverAReportingProblem() {
        server.answer('/builds/step', 500, 'oops')
        RuntimeException boom = new IllegalStateException('tests failed')
        try {
            h.run('inframindStage', [name: 'test'], { throw boom })
            fail('the body exception was swallowed')
        } catch (Throwable t) {
            assertSame(boom, t)
        }
        assertEquals(1, TestSupport.warnings(h).size())
    }

    @Test
    void aServerDownNeverFailsTheStageAndLaterStagesStaySilent() {
        h.env['INFRAMIND_URL'] = TestSupport.deadUrl()
        assertEquals('one', h.run('inframindStage', [name: 'a'], { 'one' }))
        assertEquals(1, h.log.size())
        assertTrue(h.log[0], h.log[0].startsWith("InfraMind: WARNING: reporting step 'a' failed, the stage is not affected: POST /builds/step"))
        assertEquals('1', h.env['INFRAMIND_OFFLINE'])
        int attempts = h.calls('sh').size() + h.calls('httpRequest').size()
        assertEquals('two', h.run('inframindStage', [name: 'b'], { 'two' }))
        assertEquals('no more requests once the service is down', attempts, h.calls('sh').size() + h.calls('httpRequest').size())
        assertEquals('no more warnings either', 1, h.log.size())
    }

    @Test
    void http500WhileReportingIsOneWarning() {
        server.answer('/builds/step', 500, '{"error": {"code": "unavailable", "message": "database down", "field": null}}')
        assertEquals('ok', h.run('inframindStage', [name: 'a'], { 'ok' }))
        assertEquals(1, h.log.size())
        assertTrue(h.log[0], h.log[0].contains('HTTP 500 unavailable: database down'))
    }

    @Test
    void aSlowServerIsAbandonedAfterTheTimeout() {
        server.answer('/builds/step', 201, '{"run_id": "run-7", "step_index": 0}', 30000L)
        long t0 = System.nanoTime()
        assertEquals('ok', h.run('inframindStage', [name: 'a', timeout: 1], { 'ok' }))
        double seconds = (System.nanoTime() - t0) / 1e9d
        assertTrue('came back after ' + seconds + ' s', seconds < 15d)
        assertEquals(1, TestSupport.warnings(h).size())
    }

    @Test
    void malformedJsonWhileReportingIsOneWarning() {
        server.answer('/builds/step', 201, '<html>proxy error</html>')
        assertEquals('ok', h.run('inframindStage', [name: 'a'], { 'ok' }))
        assertEquals(1, h.log.size())
        assertTrue(h.log[0], h.log[0].contains('malformed JSON'))
    }

    @Test
    void anAbortWhileReportingIsRethrown() {
        Throwable abort = TestSupport.abort()
        TestSupport.failTransportWith(h, transport, abort)
        try {
            h.run('inframindStage', [name: 'a'], { 'ok' })
            fail('the abort was swallowed')
        } catch (Throwable t) {
            assertSame(abort, t)
        }
    }

    @Test
    void withoutOptimizeTheRunIsStartedFirst() {
        h.env['INFRAMIND_RUN_ID'] = null
        h.run('inframindStage', [name: 'compile', tool: 'cargo'], { 'ok' })
        assertEquals(['/builds/start', '/builds/step'], server.requests*.path)
        String id = RunIds.derive('team/example-app', '42')
        assertEquals([pipeline: 'team/example-app', tool: 'cargo', run_id: id], server.requestsTo('/builds/start')[0].json)
        assertEquals(id, server.requestsTo('/builds/step')[0].json.run_id)
        assertEquals(id, h.env['INFRAMIND_RUN_ID'])
    }

    @Test
    void withoutAUrlTheBodyJustRuns() {
        h.env['INFRAMIND_URL'] = null
        assertEquals('ok', h.run('inframindStage', [name: 'a'], { 'ok' }))
        assertTrue(h.log.isEmpty())
        assertTrue(server.requests.isEmpty())
    }

    @Test
    void optimizeStageNotifyTogether() {
        h.env['INFRAMIND_RUN_ID'] = null
        h.run('inframindOptimize', [params: [tool: 'cmake']])
        h.run('inframindStage', [name: 'compile'], { 'ok' })
        h.run('inframindNotify')
        assertEquals(['/optimize', '/builds/start', '/builds/step', '/builds/complete'], server.requests*.path)
        String id = RunIds.derive('team/example-app', '42')
        assertEquals(id, server.requestsTo('/builds/step')[0].json.run_id)
        assertEquals(id, server.requestsTo('/builds/complete')[0].json.run_id)
    }
}
