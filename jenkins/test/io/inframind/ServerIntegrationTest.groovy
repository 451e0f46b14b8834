package io.inframind

import io.inframind.test.PipelineHarness
import org.junit.AfterClass
import org.junit.BeforeClass
import org.junit.Test

import java.util.concurrent.TimeUnit

import static org.junit.Assert.*

/**
 * The three steps against a REAL inframind-server on loopback (the binary named by
 * INFRAMIND_SERVER_BIN, started here with --demo on a fresh SQLite file), with `sh` running the
 * real curl (the HTTP Request plugin absent), once through the httpRequest stand-in, and the
 * example Jenkinsfile with a real `make`.
 * Run by scripts/suites/70-jenkins.sh after `cargo build -p server-example`.
 */
class ServerIntegrationTest {
    static final String TOKEN = 'it-' + UUID.randomUUID().toString()
    static Process server
    static File dir
    static String url

    @BeforeClass
    static void startServer() {
        String bin = System.getenv('INFRAMIND_SERVER_BIN')
        assertNotNull('INFRAMIND_SERVER_BIN must name the inframind-server binary', bin)
        assertTrue(bin + ' is not executable', new File(bin).canExecute())
        dir = File.createTempDir()
        ServerSocket probe = new ServerSocket(0, 1, InetAddress.getByName('127.0.0.1'))
        int port = probe.localPort
        probe.close()
        url = 'http://127.0.0.1:' + port
        ProcessBuilder pb = new ProcessBuilder(bin, '--listen', '127.0.0.1:' + port,
                '--db', 'sqlite://' + new File(dir, 'inframind.db').absolutePath,
                '--model-dir', new File(dir, 'models').absolutePath, '--demo')
        pb.environment().put('INFRAMIND_TOKEN', TOKEN)
        pb.redirectErrorStream(true)
        pb.redirectOutput(new File(dir, 'server.log'))
        pb.redirectInput(ProcessBuilder.Redirect.from(new File('/dev/null')))
        server = pb.start()
        Runtime.runtime.addShutdownHook(new Thread({ server?.destroyForcibly() } as Runnable))
        long deadline = System.currentTimeMillis() + 120000L
        while (true) {
            if (!server.alive) {
                fail('inframind-server exited with ' + server.exitValue() + ':\n' + new File(dir, 'server.log').text)
            }
            try {
                HttpURLConnection c = (HttpURLConnection) new URL(url + '/healthz').openConnection(Proxy.NO_PROXY)
                c.connectTimeout = 1000
                c.readTimeout = 1000
                if (c.responseCode == 200) {
                    break
                }
            } catch (IOException notYet) {
                // still starting (seeding and training the demo pipelines)
            }
            if (System.currentTimeMillis() > deadline) {
                fail('inframind-server did not answer /healthz within 120 s:\n' + new File(dir, 'server.log').text)
            }
            Thread.sleep(200)
        }
    }

    @AfterClass
    static void stopServer() {
        if (server != null) {
            server.destroy()
            if (!server.waitFor(15, TimeUnit.SECONDS)) {
                server.destroyForcibly()
            }
        }
        dir?.deleteDir()
    }

    private static PipelineHarness harness(String job, boolean httpRequestPlugin = false) {
        PipelineHarness h = new PipelineHarness(PipelineHarness.defaultLibraryRoot())
        if (httpRequestPlugin) {
            h.installHttpRequestPlugin()
        }
        h.env['INFRAMIND_URL'] = url
        h.env['INFRAMIND_TOKEN'] = TOKEN
        h.env['JOB_NAME'] = job
        h.env['BUILD_NUMBER'] = String.valueOf(System.nanoTime())
        return h
    }

    /** GET with the token, straight to the server (to check what the steps stored). */
    private static Map get(String path) {
        HttpURLConnection c = (HttpURLConnection) new URL(url + path).openConnection(Proxy.NO_PROXY)
        c.setRequestProperty('X-IM-Token', TOKEN)
        assertEquals('GET ' + path, 200, c.responseCode)
        return (Map) Json.parse(c.inputStream.getText('UTF-8'))
    }

    private static void assertTokenNeverShown(PipelineHarness h) {
        String text = h.allRecordedText()
        assertFalse('the token shows in:\n' + text, text.contains(TOKEN))
    }

    private static void oneBuild(PipelineHarness h, boolean viaHttpRequest) {
        Map s = (Map) h.run('inframindOptimize', [params: [tool: 'cmake', num_steps: 5, max_rss_gb: 4, avg_step_duration_s: 60]])
        assertNull('no fallback: ' + h.log, s.fallback)
        assertFalse(s.cold_start as boolean)
        // Everything the server computed is exported, exactly.
        Map env = (Map) s.env
        assertTrue(env.keySet().containsAll(['INFRAMIND_CONCURRENCY', 'INFRAMIND_CPU_CORES', 'INFRAMIND_MEMORY_MB', 'MAKEFLAGS', 'CMAKE_BUILD_PARALLEL_LEVEL']))
        env.each { k, v -> assertEquals(k as String, v, h.env[k as String]) }
        assertEquals('-j' + s.config.concurrency, h.env['MAKEFLAGS'])
        String printed = h.log.join('\n')
        ((List) s.rationale).each { assertTrue(printed, printed.contains(it as String)) }

        String runId = h.env['INFRAMIND_RUN_ID']
        assertEquals(RunIds.derive(h.env['JOB_NAME'], h.env['BUILD_NUMBER']), runId)
        Object out = h.run('inframindStage', [name: 'compile'], {
            h.binding.getVariable('sh').call(script: 'echo "make $MAKEFLAGS"', returnStdout: true)
        })
        assertEquals('make ' + h.env['MAKEFLAGS'] + '\n', out)
        Map done = (Map) h.run('inframindNotify')
        assertEquals('success', done.status)

        Map stored = get('/builds/' + URLEncoder.encode(runId, 'UTF-8'))
        assertEquals('demo/example-app', stored.pipeline)
        assertEquals('success', stored.status)
        assertEquals('the run records the config it ran with', s.config, stored.config)
        assertEquals(['compile'], stored.steps*.name)
        assertEquals('one curl per request, plus the body\'s sh', viaHttpRequest ? 1 : 5, h.calls('sh').size())
        assertTrue('no warnings: ' + h.log, h.log.every { !it.contains('WARNING') })
        assertTokenNeverShown(h)
    }

    @Test
    void aDemoBuildWithCurlIsOptimizedTimedAndRecorded() {
        oneBuild(harness('demo/example-app'), false)
    }

    @Test
    void aDemoBuildThroughTheHttpRequestStepToo() {
        oneBuild(harness('demo/example-app', true), true)
    }

    @Test
    void theExampleJenkinsfileRunsRealMakeWithTheServersMakeflags() {
        PipelineHarness h = harness('demo/example-app')
        h.workspace = File.createTempDir()
        try {
            ExampleJenkinsfileTest.makefile(h.workspace)
            assertEquals('SUCCESS', h.runJenkinsfile(new File(h.libraryRoot, 'examples/Jenkinsfile')))
            String makeflags = h.env['MAKEFLAGS']
            assertTrue(makeflags, makeflags ==~ /-j\d+/)
            assertTrue(h.log.join('\n'), h.log.any { it.startsWith('make ran with MAKEFLAGS=') && it.contains(makeflags) })
            Map stored = get('/builds/' + URLEncoder.encode(h.env['INFRAMIND_RUN_ID'], 'UTF-8'))
            assertEquals('success', stored.status)
            assertEquals(['compile'], stored.steps*.name)
            assertTrue('no warnings: ' + h.log, h.log.every { !it.contains('WARNING') })
            assertTokenNeverShown(h)
        } finally {
            h.workspace.deleteDir()
        }
    }

    @Test
    void aFailedBuildIsClassifiedAndTheRemediationPrinted() {
        PipelineHarness h = harness('jenkins/oom-app')
        Map s = (Map) h.run('inframindOptimize', [params: [tool: 'cmake']])
        assertTrue('a pipeline without history gets a cold start: ' + s, s.cold_start as boolean)
        RuntimeException boom = new IllegalStateException('script returned exit code 1')
        try {
            h.run('inframindStage', [name: 'compile'], { throw boom })
            fail('the body exception was swallowed')
        } catch (Throwable t) {
            assertSame(boom, t)
        }
        h.currentBuild.currentResult = 'FAILURE'
        h.currentBuild.logLines = ['[ 42%] Building CXX object src/CMakeFiles/big.dir/huge.cpp.o',
                                   'c++: fatal error: Killed signal terminated program cc1plus',
                                   'compilation terminated.',
                                   'make[2]: *** [src/CMakeFiles/big.dir/build.make:76: huge.cpp.o] Error 1']
        Map done = (Map) h.run('inframindNotify')
        assertEquals('oom_killed', done.status)
        assertEquals('oom', done.classification.category)
        String printed = h.log.join('\n')
        assertTrue(printed, printed.contains('recorded as oom_killed'))
        assertTrue(printed, printed.contains('InfraMind: failure category: oom'))
        assertTrue(printed, printed.contains('Killed signal terminated program cc1plus'))
        assertTrue(printed, printed.contains('InfraMind: remediation: '))

        Map stored = get('/builds/' + URLEncoder.encode(h.env['INFRAMIND_RUN_ID'], 'UTF-8'))
        assertEquals('oom_killed', stored.status)
        assertEquals('failure', stored.steps[0].status)

        // A second notify in the same build sends nothing (the server would see a different log tail).
        int requests = h.calls('sh').size()
        assertEquals([run_id: stored.run_id, status: 'oom_killed', already_reported: true], h.run('inframindNotify'))
        assertEquals(requests, h.calls('sh').size())
        assertEquals('oom_killed', get('/builds/' + URLEncoder.encode(h.env['INFRAMIND_RUN_ID'], 'UTF-8')).status)
        assertTokenNeverShown(h)
    }

    @Test
    void aRetriedOptimizeStartsTheSameRunAgain() {
        PipelineHarness h = harness('demo/example-app')
        Map first = (Map) h.run('inframindOptimize', [params: [tool: 'cmake']])
        String runId = h.env['INFRAMIND_RUN_ID']
        h.env['INFRAMIND_RUN_ID'] = null
        Map second = (Map) h.run('inframindOptimize', [params: [tool: 'cmake']])
        assertEquals('the seed follows the run id: same suggestion', first.config, second.config)
        assertEquals(runId, h.env['INFRAMIND_RUN_ID'])
        assertTrue(h.log.every { !it.contains('WARNING') })
    }

    @Test
    void aWrongTokenIsOneWarningAndTheBuildGoesOn() {
        PipelineHarness h = harness('demo/example-app')
        h.env['INFRAMIND_TOKEN'] = 'not-the-token'
        Map s = (Map) h.run('inframindOptimize', [params: [tool: 'cmake'], fallback: [MAKEFLAGS: '-j2']])
        assertEquals(true, s.fallback)
        assertEquals('-j2', h.env['MAKEFLAGS'])
        assertEquals('ran', h.run('inframindStage', [name: 'compile'], { 'ran' }))
        assertNull(h.run('inframindNotify'))
        assertEquals(1, h.log.size())
        assertTrue(h.log[0], h.log[0].contains('HTTP 401'))
        assertFalse(h.log[0].contains('not-the-token'))
    }
}
