package io.inframind.test

import java.util.concurrent.TimeUnit

/**
 * A small stand-in for the Jenkins pipeline, in the style of JenkinsPipelineUnit (which our
 * registries do not carry): the library's `vars/` scripts are loaded into a Binding whose
 * variables are the steps (`sh`, `echo`, `withEnv`, `withCredentials`, `string`, `error`,
 * optionally `httpRequest`) plus `env` and `currentBuild`. Every step call is recorded in
 * `callStack`, and everything Jenkins would write to the build log (echo text, the stderr of
 * `sh`, and `sh -x` traces) goes to `log`.
 *
 * `sh` is REAL by default: the script runs in /bin/sh with the build's environment, like a
 * Jenkins agent does (with `-xe` unless the script starts with `#!`). `httpRequest` is a
 * stand-in for the HTTP Request plugin built on HttpURLConnection, honouring `timeout`,
 * `validResponseCodes` and `customHeaders`; it is absent unless `installHttpRequestPlugin()`.
 */
class PipelineHarness {
    final Binding binding = new Binding()
    final List<Map> callStack = []
    final List<String> log = []
    final FakeEnv env = new FakeEnv()
    final FakeBuild currentBuild = new FakeBuild()
    /** Credentials store: ID to Secret text. */
    final Map<String, String> credentials = [:]
    /** Every exception a step threw out of a library step, for the secrecy checks. */
    final List<Throwable> thrown = []
    final File libraryRoot
    private final GroovyShell shell

    /** The folder `sh` runs in (the job's workspace). */
    File workspace = new File('.').canonicalFile

    PipelineHarness(File libraryRoot) {
        this.libraryRoot = libraryRoot
        // Jenkins imports @Library for every Jenkinsfile.
        org.codehaus.groovy.control.CompilerConfiguration cc = new org.codehaus.groovy.control.CompilerConfiguration()
        cc.addCompilationCustomizers(new org.codehaus.groovy.control.customizers.ImportCustomizer()
                .addImports('org.jenkinsci.plugins.workflow.libs.Library'))
        this.shell = new GroovyShell(PipelineHarness.classLoader, binding, cc)
        // rawBuild.getLog(n) reads what this build logged so far.
        currentBuild.logLines = log
        binding.setVariable('env', env)
        binding.setVariable('currentBuild', currentBuild)
        env['JOB_NAME'] = 'team/example-app'
        env['BUILD_NUMBER'] = '42'
        registerAllowedMethod('echo') { Object msg -> log.add(String.valueOf(msg)); null }
        registerAllowedMethod('error') { String msg -> throw new IllegalStateException(msg) }
        registerAllowedMethod('sh') { Object arg -> realSh(arg instanceof Map ? (Map) arg : [script: arg.toString()]) }
        registerAllowedMethod('string') { Map m -> [$class: 'StringBinding'] + m }
        registerAllowedMethod('withEnv') { List pairs, Closure body -> withEnv(pairs, body) }
        registerAllowedMethod('withCredentials') { List bindings, Closure body -> withCredentials(bindings, body) }
    }

    /** The library root: the `jenkins/` folder, found from the working directory or INFRAMIND_JENKINS_DIR. */
    static File defaultLibraryRoot() {
        String dir = System.getenv('INFRAMIND_JENKINS_DIR')
        File root = dir ? new File(dir) : new File('.')
        if (!new File(root, 'vars').isDirectory() && new File(root, 'jenkins/vars').isDirectory()) {
            root = new File(root, 'jenkins')
        }
        return root.canonicalFile
    }

    /** JenkinsPipelineUnit's spelling (`helper.registerAllowedMethod(...)`): the harness is its own helper. */
    PipelineHarness getHelper() {
        return this
    }

    /** JenkinsPipelineUnit's signature; the argument types are not checked here. */
    void registerAllowedMethod(String name, List<Class> argTypes, Closure impl) {
        registerAllowedMethod(name, impl)
    }

    /** Makes `name` a step implemented by `impl`; calls are recorded (JenkinsPipelineUnit's API). */
    void registerAllowedMethod(String name, Closure impl) {
        Closure recorded = { Object[] args ->
            callStack.add([name: name, methodName: name, args: args.toList()])
            // One argument is passed as itself: Closure.call(Object[]) would hand a one-parameter closure the array.
            return args.length == 1 ? impl.call(args[0]) : impl.call(*args)
        }
        binding.setVariable(name, recorded)
    }

    /** Removes a step, as if its plugin were not installed. */
    void unregister(String name) {
        binding.variables.remove(name)
    }

    /** Adds the `httpRequest` stand-in (the HTTP Request plugin). */
    void installHttpRequestPlugin() {
        registerAllowedMethod('httpRequest') { Map p -> httpRequest(p) }
    }

    /** Loads `vars/<name>.groovy` as a Script, as Jenkins loads a global variable. */
    Script loadScript(String name) {
        File f = new File(libraryRoot, 'vars/' + name + '.groovy')
        return shell.parse(f)
    }

    /** Calls step `name` (a vars script) with `args` and an optional body, recording thrown exceptions. */
    Object run(String name, Map args = [:], Closure body = null) {
        Script s = loadScript(name)
        try {
            return body == null ? s.invokeMethod('call', [args] as Object[]) : s.invokeMethod('call', [args, body] as Object[])
        } catch (Throwable t) {
            thrown.add(t)
            throw t
        }
    }

    /** Prints the recorded calls, one per line (JenkinsPipelineUnit's printCallStack). */
    void printCallStack() {
        for (Map call : callStack) {
            println(call.name + '(' + displayed(call).join(', ') + ')')
        }
    }

    /**
     * Runs a declarative Jenkinsfile with a minimal interpreter of its structure: `pipeline`,
     * `agent`, `stages`, `stage`, `steps`, `post { always / success / failure }`, and the
     * library's `vars/` as steps (as `@Library` makes them). A failing stage skips the later
     * stages, sets currentResult FAILURE (ABORTED for an abort), runs `post`, then the failure
     * propagates, as in Jenkins. Returns the final result.
     */
    String runJenkinsfile(File jenkinsfile) {
        for (String step : ['inframindOptimize', 'inframindStage', 'inframindNotify']) {
            Script s = loadScript(step)
            registerAllowedMethod(step) { Object[] a -> s.invokeMethod('call', a) }
        }
        Throwable failure = null
        registerAllowedMethod('pipeline') { Closure body -> body.call() }
        registerAllowedMethod('agent') { Object ignored -> null }
        registerAllowedMethod('stages') { Closure body ->
            try {
                body.call()
            } catch (Throwable t) {
                failure = t
                currentBuild.currentResult = t instanceof InterruptedException ? 'ABORTED' : 'FAILURE'
            }
        }
        registerAllowedMethod('stage') { String name, Closure body ->
            env['STAGE_NAME'] = name
            try {
                body.call()
            } finally {
                env['STAGE_NAME'] = null
            }
        }
        registerAllowedMethod('steps') { Closure body -> body.call() }
        registerAllowedMethod('post') { Closure body -> body.call() }
        registerAllowedMethod('always') { Closure body -> body.call() }
        registerAllowedMethod('success') { Closure body -> if (currentBuild.currentResult == 'SUCCESS') { body.call() } }
        registerAllowedMethod('failure') { Closure body -> if (currentBuild.currentResult == 'FAILURE') { body.call() } }
        Script pipeline = shell.parse(jenkinsfile)
        pipeline.run()
        currentBuild.result = currentBuild.currentResult
        if (failure != null) {
            thrown.add(failure)
            throw failure
        }
        return currentBuild.currentResult
    }

    /** The calls of step `name`, in order. */
    List<Map> calls(String name) {
        return callStack.findAll { it.name == name }
    }

    /** Everything a person or a log scraper could see: the log, the scripts, step arguments, exceptions. */
    String allRecordedText() {
        StringBuilder sb = new StringBuilder()
        for (String line : log) {
            sb.append(line).append('\n')
        }
        for (Map call : callStack) {
            sb.append(call.name).append(' ').append(String.valueOf(displayed(call))).append('\n')
        }
        for (Throwable t : thrown) {
            StringWriter w = new StringWriter()
            t.printStackTrace(new PrintWriter(w))
            sb.append(w.toString())
        }
        return sb.toString()
    }

    /**
     * A call's arguments as Jenkins would display them: a header of httpRequest with
     * `maskValue: true` shows as `****` (the plugin masks it); everything else as given.
     */
    static List displayed(Map call) {
        if (call.name != 'httpRequest') {
            return (List) call.args
        }
        Map p = new LinkedHashMap((Map) call.args[0])
        List headers = []
        for (Object h : (p.customHeaders ?: [])) {
            Map copy = new LinkedHashMap((Map) h)
            if (copy.maskValue == true) {
                copy.value = '****'
            }
            headers.add(copy)
        }
        p.customHeaders = headers
        return [p]
    }

    // ------------------------------------------------------------------ steps

    Object withEnv(List pairs, Closure body) {
        Map<String, String> saved = [:]
        for (Object p : pairs) {
            String s = p.toString()
            int eq = s.indexOf('=')
            String k = s.substring(0, eq)
            saved.put(k, env.snapshot().get(k))
            env.bind(k, s.substring(eq + 1))
        }
        try {
            return body.call()
        } finally {
            restore(saved)
        }
    }

    Object withCredentials(List bindings, Closure body) {
        Map<String, String> saved = [:]
        for (Object b : bindings) {
            Map m = (Map) b
            String id = m.credentialsId
            if (!credentials.containsKey(id)) {
                // What the Credentials Binding plugin says for an unknown ID.
                throw new IllegalArgumentException("Could not find credentials entry with ID '" + id + "'")
            }
            saved.put(m.variable as String, env.snapshot().get(m.variable as String))
            env.bind(m.variable as String, credentials.get(id))
        }
        try {
            return body.call()
        } finally {
            restore(saved)
        }
    }

    private void restore(Map<String, String> saved) {
        for (Map.Entry<String, String> e : saved.entrySet()) {
            env.bind(e.key, e.value)
        }
    }

    /** Runs the script in /bin/sh with the build's environment, like a Jenkins agent. */
    Object realSh(Map p) {
        String text = p.script.toString()
        File f = File.createTempFile('harness-sh', '.sh')
        f.deleteOnExit()
        f.text = text
        List<String> cmd
        if (text.startsWith('#!')) {
            List<String> interp = text.substring(2, text.indexOf('\n')).trim().split(/\s+/).toList()
            cmd = interp + [f.absolutePath]
        } else {
            cmd = ['/bin/sh', '-xe', f.absolutePath]
        }
        StringBuffer out = new StringBuffer()
        StringBuffer err = new StringBuffer()
        Process proc
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).directory(workspace)
            Map<String, String> penv = pb.environment()
            for (String k : ['http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY']) {
                penv.remove(k)
            }
            penv.putAll(env.snapshot())
            proc = pb.start()
            proc.outputStream.close()
            Thread to = proc.consumeProcessOutputStream(out)
            Thread te = proc.consumeProcessErrorStream(err)
            if (!proc.waitFor(120, TimeUnit.SECONDS)) {
                proc.destroyForcibly()
                throw new IllegalStateException('harness: sh script ran longer than 120 s')
            }
            to.join()
            te.join()
            if (err.length() > 0) {
                for (String line : err.toString().split('\n')) {
                    log.add(line)
                }
            }
        } finally {
            f.delete()
        }
        if (!p.returnStdout && out.length() > 0) {
            // Without returnStdout, Jenkins shows the script's output in the build log.
            for (String line : out.toString().split('\n')) {
                log.add(line)
            }
        }
        int rc = proc.exitValue()
        if (p.returnStatus) {
            return rc
        }
        if (rc != 0) {
            throw new IllegalStateException('script returned exit code ' + rc)
        }
        return p.returnStdout ? out.toString() : null
    }

    /** The HTTP Request plugin's step, on HttpURLConnection. */
    Object httpRequest(Map p) {
        HttpURLConnection c = (HttpURLConnection) new URL(p.url as String).openConnection(Proxy.NO_PROXY)
        int timeoutMs = ((p.timeout ?: 0) as int) * 1000
        c.connectTimeout = timeoutMs
        c.readTimeout = timeoutMs
        c.requestMethod = (p.httpMode ?: 'GET') as String
        if (p.contentType == 'APPLICATION_JSON') {
            c.setRequestProperty('Content-Type', 'application/json')
        }
        if (p.acceptType == 'APPLICATION_JSON') {
            c.setRequestProperty('Accept', 'application/json')
        }
        for (Object h : (p.customHeaders ?: [])) {
            c.setRequestProperty(h.name as String, h.value as String)
        }
        if (p.requestBody != null) {
            c.doOutput = true
            c.outputStream.withStream { it.write((p.requestBody as String).getBytes('UTF-8')) }
        }
        int code = c.responseCode
        InputStream is = code >= 400 ? c.errorStream : c.inputStream
        String content = is == null ? '' : is.getText('UTF-8')
        String[] range = ((p.validResponseCodes ?: '100:399') as String).split(':')
        if (code < (range[0] as int) || code > (range[1] as int)) {
            throw new IllegalStateException('Fail: Status code ' + code + ' is not in the accepted range: ' + p.validResponseCodes)
        }
        if (!p.quiet) {
            log.add('HttpMethod: ' + p.httpMode + ' URL: ' + p.url + ' Response Code: HTTP/1.1 ' + code)
        }
        return new FakeResponse(status: code, content: content)
    }
}
