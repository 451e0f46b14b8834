package io.inframind.test

/**
 * Stands in for Jenkins' `env` (EnvActionImpl): property and subscript access, values stored
 * as strings, a missing variable reads as null, `env.X = null` removes it. Every write is recorded.
 */
class FakeEnv extends GroovyObjectSupport {
    final Map<String, String> vars = new LinkedHashMap<String, String>()
    final List<List<String>> writes = []

    @Override
    Object getProperty(String name) {
        return vars.get(name)
    }

    @Override
    void setProperty(String name, Object value) {
        writes.add([name, value == null ? null : value.toString()])
        if (value == null) {
            vars.remove(name)
        } else {
            vars.put(name, value.toString())
        }
    }

    Object getAt(String name) {
        return getProperty(name)
    }

    void putAt(String name, Object value) {
        setProperty(name, value)
    }

    /** The variables as a map (a copy). Property syntax cannot be used: it reads variables. */
    Map<String, String> snapshot() {
        return new LinkedHashMap<String, String>(vars)
    }

    /** Sets or (null) removes a variable without recording a write: what withEnv/withCredentials do. */
    void bind(String name, String value) {
        if (value == null) {
            vars.remove(name)
        } else {
            vars.put(name, value)
        }
    }

    /** Forgets the recorded writes. */
    void clearWrites() {
        writes.clear()
    }

    /** Names of the variables written, in order, without repeats. */
    List<String> writtenNames() {
        List<String> names = []
        for (List<String> w : writes) {
            if (!names.contains(w[0])) {
                names.add(w[0])
            }
        }
        return names
    }
}
