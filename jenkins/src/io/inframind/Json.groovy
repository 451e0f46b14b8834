package io.inframind

import com.cloudbees.groovy.cps.NonCPS
import groovy.json.JsonOutput
import groovy.json.JsonSlurperClassic

/**
 * JSON in and out. JsonSlurperClassic builds plain HashMaps and ArrayLists, which survive a
 * Jenkins restart (the CPS program is serialized); the lazy maps of JsonSlurper do not.
 */
class Json implements Serializable {
    private static final long serialVersionUID = 1L

    /** Renders a value as JSON, pure ASCII (non-ASCII characters as \\uXXXX escapes). */
    @NonCPS
    static String write(Object value) {
        String text = JsonOutput.toJson(value)
        StringBuilder out = new StringBuilder(text.length() + 16)
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i)
            if ((int) c > 0x7e) {
                String hex = Integer.toHexString((int) c)
                out.append('\\u')
                for (int pad = hex.length(); pad < 4; pad++) {
                    out.append('0')
                }
                out.append(hex)
            } else {
                out.append(c)
            }
        }
        return out.toString()
    }

    /** Parses JSON text; throws on malformed input. */
    @NonCPS
    static Object parse(String text) {
        return new JsonSlurperClassic().parseText(text)
    }
}
