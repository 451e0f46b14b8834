package io.inframind

import org.junit.Test

import static org.junit.Assert.*

class RunIdsTest {
    @Test
    void theSameBuildGivesTheSameId() {
        assertEquals(RunIds.derive('team/app', '7'), RunIds.derive('team/app', '7'))
        assertEquals(RunIds.seed('x'), RunIds.seed('x'))
    }

    @Test
    void idsAreUrlSafeAndReadable() {
        String id = RunIds.derive('Team Folder/My App (main)', '12')
        assertTrue(id, id ==~ /jenkins-team-folder-my-app-main-[0-9a-f]{8}-12/)
    }

    @Test
    void similarJobNamesStayApart() {
        assertNotEquals(RunIds.derive('team/app', '1'), RunIds.derive('team-app', '1'))
        assertNotEquals(RunIds.derive('team/app', '1'), RunIds.derive('team/app', '2'))
    }

    @Test
    void longNamesAreCut() {
        String id = RunIds.derive('x' * 300, '1')
        assertTrue(id.length() < 90)
    }

    @Test
    void fnvMatchesTheReferenceVectors() {
        // FNV-1a 32-bit test vectors (Fowler/Noll/Vo).
        assertEquals(0x811c9dc5L, RunIds.fnv1a(''))
        assertEquals(0xe40c292cL, RunIds.fnv1a('a'))
        assertEquals(0xbf9cf968L, RunIds.fnv1a('foobar'))
    }
}
