package io.inframind

import org.junit.Test

import static org.junit.Assert.*

class RenderTest {
    @Test
    void everyRemediationReadsAsWords() {
        Map retry = [max_attempts: 3, initial_backoff_s: 10.0]
        assertEquals('retry on another agent (at most 3 attempts, first after 10 s)',
                Render.remediation([action: 'retry', retry: retry, another_agent: true]))
        assertEquals('clean workspace, build_cache, then retry (at most 3 attempts, first after 10 s)',
                Render.remediation([action: 'clean_and_retry', clean: ['workspace', 'build_cache'], retry: retry]))
        assertEquals('retry with a 1.5x longer time limit (at most 3 attempts, first after 10 s)',
                Render.remediation([action: 'extend_timeout', timeout_factor: 1.5, retry: retry]))
        assertEquals('do not retry: the code does not compile', Render.remediation([action: 'no_retry', reason: 'the code does not compile']))
        assertEquals('escalate to a person: unknown cause', Render.remediation([action: 'escalate', reason: 'unknown cause']))
        assertEquals('page_someone (who=oncall)', Render.remediation([action: 'page_someone', who: 'oncall']))
    }

    @Test
    void aColdStartSuggestionIsMarked() {
        List<String> lines = Render.suggestion('p', [config: [concurrency: 2, cpu_cores: 2, memory_bytes: 4294967296L],
                                                     cold_start: true, rationale: ['Cold start: no history.']],
                [['INFRAMIND_CONCURRENCY', '2']], [])
        assertEquals('InfraMind: suggestion for p: 2 jobs, 2 cores, 4 GiB [cold start]', lines[0])
        assertEquals('  - Cold start: no history.', lines[1])
        assertEquals('  exported: INFRAMIND_CONCURRENCY=2', lines[2])
    }

    @Test
    void aCompletionWithoutClassificationIsOneLine() {
        assertEquals(['InfraMind: run r1 recorded as success after 12 s'],
                Render.completion([run_id: 'r1', status: 'success', classification: null], 'success', 12.3d))
    }

    @Test
    void envFallsBackToTheThreeFromConfig() {
        assertEquals([INFRAMIND_CONCURRENCY: '4', INFRAMIND_CPU_CORES: '3.5', INFRAMIND_MEMORY_MB: '5376'],
                Render.envOf([config: [concurrency: 4, cpu_cores: 3.5, memory_bytes: 5637144576L]]))
        assertNull(Render.envOf([rationale: []]))
    }
}
