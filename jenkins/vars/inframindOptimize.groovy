// inframindOptimize(params: [tool: 'cmake', ...]): see inframindOptimize.txt.
// A thin wrapper: the work is in io.inframind.OptimizeStep (jenkins/src).
import io.inframind.OptimizeStep

def call(Map args = [:]) {
    return new OptimizeStep(this).run(args)
}
