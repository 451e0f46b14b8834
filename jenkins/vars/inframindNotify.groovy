// inframindNotify(): see inframindNotify.txt.
// A thin wrapper: the work is in io.inframind.NotifyStep (jenkins/src).
import io.inframind.NotifyStep

def call(Map args = [:]) {
    return new NotifyStep(this).run(args)
}
