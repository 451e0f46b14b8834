package io.inframind

import com.cloudbees.groovy.cps.NonCPS

/** Small text helpers: one-line messages, redaction, number formatting. */
class Text implements Serializable {
    private static final long serialVersionUID = 1L

    /** `s` on one line (CR, LF and tabs become spaces), cut to `max` characters. */
    @NonCPS
    static String oneLine(Object s, int max) {
        String t = (s == null ? '' : s.toString()).replaceAll('[\\r\\n\\t]+', ' ').trim()
        return t.length() > max ? t.substring(0, max - 3) + '...' : t
    }

    /** `s` with every occurrence of `secret` replaced by `****` (nothing to do for a blank secret). */
    @NonCPS
    static String redact(String s, String secret) {
        if (s == null || secret == null || secret.trim().isEmpty()) {
            return s
        }
        return s.replace(secret, '****')
    }

    /** `x` rounded to `digits` decimals, without trailing zeros: 4.5, 408, 0.25. */
    @NonCPS
    static String num(Object x, int digits) {
        if (!(x instanceof Number)) {
            return x == null ? '?' : x.toString()
        }
        BigDecimal d = new BigDecimal(((Number) x).toString())
        d = d.setScale(digits, BigDecimal.ROUND_HALF_UP).stripTrailingZeros()
        return d.scale() < 0 ? d.setScale(0).toPlainString() : d.toPlainString()
    }

    /** The exception as one line: its class' simple name and message. */
    @NonCPS
    static String describe(Throwable t) {
        String m = t.getMessage()
        String n = t.getClass().getSimpleName()
        return oneLine(m ? n + ': ' + m : n, 300)
    }

    /** The last `maxChars` characters of `s` (the whole of it when shorter). */
    @NonCPS
    static String tail(String s, int maxChars) {
        if (s == null || s.length() <= maxChars) {
            return s
        }
        String t = s.substring(s.length() - maxChars)
        int nl = t.indexOf('\n')
        return nl >= 0 && nl < t.length() - 1 ? t.substring(nl + 1) : t
    }
}
