// inframindStage(name: 'compile') { ... }: see inframindStage.txt.
// A thin wrapper: the work is in io.inframind.StageStep (jenkins/src).
import io.inframind.StageStep

def call(Map args = [:], Closure body) {
    return new StageStep(this).run(args, body)
}
