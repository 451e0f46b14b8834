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
 * jenkins/examples/Jenkinsfile as it is, run by the harness' small declarative interpreter, with
 * a real `make` in a temporary workspace: the exported MAKEFLAGS reach make, the stage and the
 * build are reported, and with the service down the build is the same build plus one warning.
 */
@RunWith(Parameterized)
class ExampleJenkinsfileTest {
    @Parameterized.Parameters(name = '{0}')
    static Collection<Object[]> data() {
        return TestSupport.transports()
    }

    private final String transport
    private FakeServer server
    private PipelineHarness h
    private File jenkinsfile

    ExampleJenkinsfileTest(String transport) {
        this.transport = transport
    }

    @Before
    void setUp() {
        server = new FakeServer(TestSupport.TOKEN).start()
        h = TestSupport.harness(transport, server.url())
        h.workspace = File.createTempDir()
        jenkinsfile = new File(h.libraryRoot, 'examples/Jenkinsfile')
    }

    @After
    void tearDown() {
        server.stop()
        h.workspace.deleteDir()
    }

    /** A Makefile that shows the MAKEFLAGS it got from the environment. */
    static void makefile(File dir) {
        new File(dir, 'Makefile').text = 'all:\n\t@echo "make ran with MAKEFLAGS=$$MAKEFLAGS"\n'
    }

    @Test
    void theExampleOptimizesBuildsAndReports() {
        makefile(h.workspace)
        assertEquals('SUCCESS', h.runJenkinsfile(jenkinsfile))
        assertTrue(h.log.join('\n'), h.log.any { it.startsWith('make ran with MAKEFLAGS=') && it.contains('-j5') })
        assertEquals(['/optimize', '/builds/start', '/builds/step', '/builds/complete'], server.requests*.path)
        Map step = server.requestsTo('/builds/step')[0].json
        assertEquals('compile', step.name)
        assertEquals('success', step.status)
        assertEquals('success', server.requestsTo('/builds/complete')[0].json.status)
        assertTrue(TestSupport.warnings(h).isEmpty())
    }

    @Test
    void aFailingMakeFailsTheBuildAndTheFailureIsReportedWithItsLog() {
        // No Makefile: make fails, as a broken build would.
        try {
            h.runJenkinsfile(jenkinsfile)
            fail('the failing sh did not fail the build')
        } catch (IllegalStateException e) {
            assertEquals('script returned exit code 2', e.message)
        }
        assertEquals('FAILURE', h.currentBuild.currentResult)
        assertEquals('failure', server.requestsTo('/builds/step')[0].json.status)
        Map done = server.requestsTo('/builds/complete')[0].json
        assertEquals('failure', done.status)
        assertTrue(done.log_tail as String, (done.log_tail as String).contains('No targets specified and no makefile found'))
    }

    @Test
    void withTheServiceDownTheBuildIsTheSameBuildPlusOneWarning() {
        makefile(h.workspace)
        h.env['INFRAMIND_URL'] = TestSupport.deadUrl()
        assertEquals('SUCCESS', h.runJenkinsfile(jenkinsfile))
        List<String> ours = h.log.findAll { it.contains('InfraMind') }
        assertEquals(1, ours.size())
        assertTrue(ours[0], ours[0].startsWith('InfraMind: WARNING: no suggestion'))
        assertTrue(h.log.join('\n'), h.log.any { it.startsWith('make ran with MAKEFLAGS=') })
        assertNull(h.env['MAKEFLAGS'])
    }
}
