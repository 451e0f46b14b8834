package io.inframind.test

import org.jenkinsci.plugins.workflow.steps.FlowInterruptedException

/** Shared set-up of the step tests: a harness, a fake server, the two transports. */
class TestSupport {
    /** The token of the tests: it must never show up in anything a person could read. */
    static final String TOKEN = 'tok-SECRET-7f3a9c41e2'

    /** Both transports: the HTTP Request plugin, and sh + curl when the plugin is missing. */
    static Collection<Object[]> transports() {
        return [['httpRequest'] as Object[], ['curl'] as Object[]]
    }

    /** A harness with the token in INFRAMIND_TOKEN, INFRAMIND_URL at `url`, and the `transport`'s plugin set. */
    static PipelineHarness harness(String transport, String url) {
        PipelineHarness h = new PipelineHarness(PipelineHarness.defaultLibraryRoot())
        if (transport == 'httpRequest') {
            h.installHttpRequestPlugin()
        }
        h.env['INFRAMIND_TOKEN'] = TOKEN
        if (url != null) {
            h.env['INFRAMIND_URL'] = url
        }
        h.env.clearWrites()
        return h
    }

    /** A loopback URL where nothing listens (a port just released). */
    static String deadUrl() {
        ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName('127.0.0.1'))
        int port = s.localPort
        s.close()
        return 'http://127.0.0.1:' + port
    }

    /** Makes the transport's step throw `t` (an abort arriving while InfraMind talks to the server). */
    static void failTransportWith(PipelineHarness h, String transport, Throwable t) {
        h.registerAllowedMethod(transport == 'httpRequest' ? 'httpRequest' : 'sh') { Object[] ignored -> throw t }
    }

    static FlowInterruptedException abort() {
        return new FlowInterruptedException('Aborted by admin')
    }

    /** The log lines that are InfraMind warnings. */
    static List<String> warnings(PipelineHarness h) {
        return h.log.findAll { it.contains('InfraMind: WARNING') }
    }
}
