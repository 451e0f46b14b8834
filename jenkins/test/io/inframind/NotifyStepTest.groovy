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

/** inframindNotify: status mapping, duration, the log tail of a failed build, the classification. */
@RunWith(Parameterized)
class NotifyStepTest {
    @Parameterized.Parameters(name = '{0}')
    static Collection<Object[]> data() {
        return TestSupport.transports()
    }

    static final String OOM_ANSWER = '''{"run_id": "RUN", "status": "oom_killed", "classification": {
        "category": "oom", "confidence": 0.9,
        "evidence": [{"line": 3, "text": "c++: fatal error: Killed signal terminated program cc1plus", "pattern": "compiler-killed", "category": "oom", "weight": 3.0}],
        "remediation": {"action": "reduce_concurrency", "mark_status": "oom_killed", "concurrency_factor": 0.5,
                        "retry": {"max_attempts": 2, "initial_backoff_s": 30.0, "multiplier": 2.0, "max_backoff_s": 300.0, "jitter": 0.1}}}}'''

    private final String transport
    private FakeServer server
    private PipelineHarness h

    NotifyStepTest(String transport) {
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
    void everyJenkinsResultMapsToAnApiStatus() {
        Map expected = [SUCCESS: 'success', FAILURE: 'failure', UNSTABLE: 'failure', ABORTED: 'cancelled', NOT_BUILT: 'cancelled']
        expected.each { String result, String status ->
            h.currentBuild.currentResult = result
            h.env['INFRAMIND_COMPLETED'] = null
            h.run('inframindNotify')
        }
        assertEquals(expected.values().toList(), server.requestsTo('/builds/complete')*.json*.status)
    }

    @Test
    void aSuccessfulBuildSendsItsDurationAndNoLog() {
        h.currentBuild.logLines = ['all good']
        Map answer = (Map) h.run('inframindNotify')
        Map body = server.requestsTo('/builds/complete')[0].json
        assertEquals('run-7', body.run_id)
        assertEquals('success', body.status)
        double d = body.duration_s as double
        assertTrue('duration ' + d, d >= 42d && d < 600d)
        assertFalse(body.containsKey('log_tail'))
        assertEquals('success', answer.status)
        assertEquals(1, h.log.size())
        assertTrue(h.log[0], h.log[0].startsWith('InfraMind: run run-7 recorded as success after 4'))
    }

    @Test
    void aFailedBuildSendsTheLogTailAndPrintsTheClassificationAndRemediation() {
        server.answer('/builds/complete', 200, OOM_ANSWER)
        h.currentBuild.currentResult = 'FAILURE'
        h.currentBuild.logLines = (1..500).collect { 'line ' + it } + ['c++: fatal error: Killed signal terminated program cc1plus']
        Map answer = (Map) h.run('inframindNotify')

        String tail = server.requestsTo('/builds/complete')[0].json.log_tail
        List<String> lines = tail.split('\n').toList()
        assertEquals('the last 200 lines', 200, lines.size())
        assertEquals('line 302', lines[0])
        assertEquals('c++: fatal error: Killed signal terminated program cc1plus', lines[-1])
        assertEquals('oom', answer.classification.category)

        String printed = h.log.join('\n')
        assertTrue(printed, printed.contains('InfraMind: run run-7 recorded as oom_killed'))
        assertTrue(printed, printed.contains('InfraMind: failure category: oom (confidence 0.9)'))
        assertTrue(printed, printed.contains('evidence, log line 3: c++: fatal error: Killed signal terminated program cc1plus'))
        assertTrue(printed, printed.contains('InfraMind: remediation: lower the concurrency (x0.5) and retry (at most 2 attempts, first after 30 s); the run is recorded as oom_killed'))
    }

    @Test
    void logLinesChoosesHowMuchLogIsSent() {
        h.currentBuild.currentResult = 'UNSTABLE'
        h.currentBuild.logLines = (1..50).collect { 'l' + it }
        h.run('inframindNotify', [logLines: 5])
        assertEquals('l46\nl47\nl48\nl49\nl50', server.requestsTo('/builds/complete')[0].json.log_tail)
    }

    @Test
    void inTheSandboxTheLogTailArgumentIsSent() {
        h.currentBuild.sandboxed = true
        h.currentBuild.currentResult = 'FAILURE'
        h.run('inframindNotify', [logTail: 'java.lang.OutOfMemoryError: Java heap space'])
        assertEquals('java.lang.OutOfMemoryError: Java heap space', server.requestsTo('/builds/complete')[0].json.log_tail)
        assertTrue(TestSupport.warnings(h).isEmpty())
    }

    @Test
    void inTheSandboxWithoutALogTailNothingIsSentAndNothingFails() {
        h.currentBuild.sandboxed = true
        h.currentBuild.currentResult = 'FAILURE'
        Map answer = (Map) h.run('inframindNotify')
        Map body = server.requestsTo('/builds/complete')[0].json
        assertEquals('failure', body.status)
        assertFalse(body.containsKey('log_tail'))
        assertNotNull(answer)
        assertTrue(TestSupport.warnings(h).isEmpty())
    }

    @Test
    void aServerDownIsOneWarningAndNeverFailsTheBuild() {
        h.env['INFRAMIND_URL'] = TestSupport.deadUrl()
        h.currentBuild.currentResult = 'FAILURE'
        assertNull(h.run('inframindNotify'))
        assertEquals(1, h.log.size())
        assertTrue(h.log[0], h.log[0].startsWith('InfraMind: WARNING: reporting the build failed, the build is not affected: POST /builds/complete'))
    }

    @Test
    void http409IsOneWarning() {
        server.answer('/builds/complete', 409, '{"error": {"code": "conflict", "message": "run already completed as success", "field": "status"}}')
        assertNull(h.run('inframindNotify'))
        assertEquals(1, h.log.size())
        assertTrue(h.log[0], h.log[0].contains('HTTP 409 conflict: run already completed as success (field status)'))
    }

    @Test
    void aSlowServerIsAbandonedAfterTheTimeout() {
        server.answer('/builds/complete', 200, '{}', 30000L)
        long t0 = System.nanoTime()
        assertNull(h.run('inframindNotify', [timeout: 1]))
        double seconds = (System.nanoTime() - t0) / 1e9d
        assertTrue('came back after ' + seconds + ' s', seconds < 15d)
        assertEquals(1, TestSupport.warnings(h).size())
    }

    @Test
    void malformedJsonIsOneWarning() {
        server.answer('/builds/complete', 200, '{"run_id": ')
        assertNull(h.run('inframindNotify'))
        assertEquals(1, h.log.size())
        assertTrue(h.log[0], h.log[0].contains('malformed JSON'))
    }

    @Test
    void anAbortWhileReportingIsRethrown() {
        Throwable abort = TestSupport.abort()
        TestSupport.failTransportWith(h, transport, abort)
        try {
            h.run('inframindNotify')
            fail('the abort was swallowed')
        } catch (Throwable t) {
            assertSame(abort, t)
        }
    }

    @Test
    void aBuildIsReportedOnce() {
        h.currentBuild.currentResult = 'FAILURE'
        server.answer('/builds/complete', 200, OOM_ANSWER)
        h.run('inframindNotify')
        assertEquals('oom_killed', h.env['INFRAMIND_COMPLETED'])
        assertEquals([run_id: 'run-7', status: 'oom_killed', already_reported: true], h.run('inframindNotify'))
        assertEquals(1, server.requestsTo('/builds/complete').size())
    }

    @Test
    void afterTheServiceWasDownNothingIsSent() {
        h.env['INFRAMIND_OFFLINE'] = '1'
        assertNull(h.run('inframindNotify'))
        assertTrue(server.requests.isEmpty())
        assertTrue(h.log.isEmpty())
    }
}
