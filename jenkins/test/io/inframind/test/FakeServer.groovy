package io.inframind.test

import com.sun.net.httpserver.HttpExchange
import com.sun.net.httpserver.HttpServer

import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors
import java.util.concurrent.ThreadFactory

/**
 * A real HTTP server on loopback that plays the InfraMind API for the unit tests (the real
 * server is exercised by ServerIntegrationTest): it checks the X-IM-Token header, records
 * every request, and answers per route what the test sets: a status and body, malformed
 * JSON, or an answer that comes only after a long sleep (to test the client's timeout).
 */
class FakeServer {
    /** What a route answers. */
    static class Answer {
        int status
        String body
        long delayMs
    }

    final String token
    final List<Map> requests = Collections.synchronizedList(new ArrayList<Map>())
    final Map<String, Answer> answers = Collections.synchronizedMap(new LinkedHashMap<String, Answer>())
    private HttpServer server
    private ExecutorService pool

    FakeServer(String token) {
        this.token = token
        answer('/optimize', 200, SAMPLE_SUGGESTION)
        answer('/builds/start', 201, '{"run_id": "RUN", "pipeline": "P", "status": "running"}')
        answer('/builds/step', 201, '{"run_id": "RUN", "step_index": 0}')
        answer('/builds/complete', 200, '{"run_id": "RUN", "status": "success", "classification": null}')
    }

    /** The suggestion of api.md's example. */
    static final String SAMPLE_SUGGESTION = '''{"pipeline": "team/example-app",
 "config": {"concurrency": 5, "cpu_cores": 4.5, "memory_bytes": 5637144576},
 "predicted_duration_s": 408.0, "spread_s": 20.0, "baseline_duration_s": 535.0,
 "expected_change_s": -127.0, "explored": false, "cold_start": false, "guards": [],
 "rationale": ["History: 300 runs (293 successful).", "Suggest 5 jobs, 4.5 cores, 5.25 GiB: predicted 408 s."],
 "model_version": "v3",
 "env": {"INFRAMIND_CONCURRENCY": "5", "INFRAMIND_CPU_CORES": "4.5", "INFRAMIND_MEMORY_MB": "5376",
         "MAKEFLAGS": "-j5", "CMAKE_BUILD_PARALLEL_LEVEL": "5"}}'''

    /** Route `path` answers `status` with `body` after `delayMs`. The body may contain RUN, replaced by the request's run_id. */
    FakeServer answer(String path, int status, String body, long delayMs = 0L) {
        answers.put(path, new Answer(status: status, body: body, delayMs: delayMs))
        return this
    }

    FakeServer start() {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getByName('127.0.0.1'), 0), 16)
        pool = Executors.newCachedThreadPool(new ThreadFactory() {
            Thread newThread(Runnable r) {
                Thread t = new Thread(r, 'fake-inframind')
                t.daemon = true
                return t
            }
        })
        server.executor = pool
        server.createContext('/') { HttpExchange ex -> handle(ex) }
        server.start()
        return this
    }

    String url() {
        return 'http://127.0.0.1:' + server.address.port
    }

    void stop() {
        server?.stop(0)
        pool?.shutdownNow()
    }

    /** The recorded requests to `path`. */
    List<Map> requestsTo(String path) {
        synchronized (requests) {
            return requests.findAll { it.path == path }
        }
    }

    private void handle(HttpExchange ex) {
        try {
            String body = ex.requestBody.getText('UTF-8')
            String path = ex.requestURI.path
            Map parsed = null
            try {
                parsed = (Map) new groovy.json.JsonSlurperClassic().parseText(body)
            } catch (Exception ignored) {
                parsed = null
            }
            requests.add([path: path, method: ex.requestMethod, token: ex.requestHeaders.getFirst('X-IM-Token'),
                          contentType: ex.requestHeaders.getFirst('Content-Type'), body: body, json: parsed])
            Answer a = answers.get(path)
            int status
            String out
            if (token != null && ex.requestHeaders.getFirst('X-IM-Token') != token) {
                status = 401
                out = '{"error": {"code": "unauthorized", "message": "missing or wrong X-IM-Token", "field": null}}'
            } else if (a == null) {
                status = 404
                out = '{"error": {"code": "not_found", "message": "no route", "field": null}}'
            } else {
                if (a.delayMs > 0) {
                    Thread.sleep(a.delayMs)
                }
                status = a.status
                out = a.body.replace('RUN', parsed?.run_id?.toString() ?: 'RUN')
            }
            byte[] bytes = out.getBytes('UTF-8')
            ex.responseHeaders.add('Content-Type', 'application/json')
            ex.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length)
            if (bytes.length > 0) {
                ex.responseBody.write(bytes)
            }
        } catch (InterruptedException ignored) {
            // stop() while a slow answer sleeps
        } catch (IOException ignored) {
            // the client gave up (timeout): nothing to answer
        } finally {
            ex.close()
        }
    }
}
