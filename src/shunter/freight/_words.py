"""Word lists for Freight aliases (``<adjective>-<animal>``), written for shunter.

Rules for additions: lower-case ASCII letters only, no duplicates, nothing unkind; both lists are
checked by the unit tests.
"""

from __future__ import annotations

__all__ = ["ADJECTIVES", "ANIMALS"]


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


ADJECTIVES: tuple[str, ...] = _words(
    """
    able absolute adept agile airy alert amber ample amused ancient apt arctic ardent artful
    astute atomic autumn avid azure balmy bashful beaming billowy blazing blithe blue bold
    bouncy brave breezy bright brisk bronze bubbly busy calm candid capable careful caring
    casual cheerful cheery chilly chipper civic classic clean clear clever cloudy coastal
    cobalt comic cool copper cosmic cozy crafty crimson crisp curious curly dainty dapper
    daring dashing dazzling deft delicate devoted dewy diligent direct discreet dizzy dreamy
    driven dusty dynamic eager early earnest easy elated elegant eloquent emerald epic equal
    even exact excited expert fabled fair faithful fancy fast fearless festive fiery fine firm
    fluent fluffy flying fond frank free fresh friendly frosty frugal funny fuzzy gallant
    gentle genuine giant gifted giddy glad gleaming glossy glowing golden good graceful grand
    grateful green groovy happy hardy harmonic hasty hazy hearty helpful heroic honest hopeful
    humble icy ideal idle indigo inner jade jaunty jolly jovial joyful jumpy just keen kind
    kindly lavish lazy leafy lemon level light likable lilac limber lively local lofty loyal
    lucid lucky lunar lush magic majestic mellow merry mighty mild minty misty modern modest
    mossy nifty nimble noble novel oaken oceanic olive open optimal orange orchid organic
    patient peaceful pearly peppy perky pink placid plucky plush polar polished polite popular
    precise pretty prime proud prompt proper purple quick quiet quirky radiant rapid rare ready
    regal relaxed rested rich rising robust rosy royal rugged rustic sandy scarlet serene sharp
    shiny silent silky silver simple sincere sleek sleepy slick smart smiling smooth snowy snug
    soft solar solid sonic sparkling speedy spicy spirited splendid sporty spry stable starry
    steady stellar sterling stoic stormy striking strong sturdy subtle sunny super supreme sure
    swift tame tender tidy timely tiny topaz tranquil tropical true trusty twinkly ultra upbeat
    urban valiant velvet vernal vibrant violet vivid warm wavy whimsical wild windy wise witty
    wooden woolly worthy young zany zealous zesty zippy amiable balanced benign bountiful
    brilliant buoyant celestial charming cordial courteous dandy decent dulcet durable earthy
    ebony electric enchanted energetic famous feisty fleet fragrant gilded glassy gusty hale
    handsome harmless honeyed jubilant lambent limpid lunate mannerly marvelous meadow melodic
    mirthful mythic nautical neat nocturnal nomadic opal pacific playful plentiful poised
    pristine quaint quartz ruby russet saffron sapphire savvy scenic shady sky snappy sociable
    sprightly stout sublime sugary tawny thrifty tidal tireless tuneful unique vast verdant
    vigilant vital wandering wintry wondrous zenith
    """
)

ANIMALS: tuple[str, ...] = _words(
    """
    aardvark albatross alligator alpaca anchovy angelfish ant anteater antelope armadillo
    axolotl baboon badger barracuda bat beagle bear beaver bee beetle bison blackbird bluebird
    boar bobcat bonobo buffalo bulldog bumblebee butterfly buzzard camel canary capybara
    caribou cardinal carp cat caterpillar catfish chameleon cheetah chickadee chicken chihuahua
    chimpanzee chinchilla chipmunk cicada clam cobra cockatoo cod collie condor cormorant
    cougar cow coyote crab crane crayfish cricket crocodile crow cuckoo dachshund dalmatian deer
    dingo dodo dog dolphin donkey dormouse dove dragonfly duck dugong eagle earwig eel egret
    eland elephant elk emu falcon ferret finch firefly flamingo flounder fox frog gazelle gecko
    gerbil gibbon giraffe gnat gnu goat goldfinch goldfish goose gopher gorilla grasshopper
    grouse guppy gull hamster hare harrier hawk hedgehog heron herring hippo hornet horse hound
    hummingbird husky hyena ibex ibis iguana impala jackal jackrabbit jaguar jay jellyfish
    kangaroo kingfisher kinkajou kitten kiwi koala koi kookaburra krill ladybug lamb lark
    lemming lemur leopard limpet lion lizard llama lobster locust loon lynx macaw mackerel
    magpie mallard manatee mandrill mantis marlin marmot marten meerkat mink minnow mockingbird
    mole mongoose monkey moose moth mouse mule mussel narwhal newt nightingale ocelot octopus
    okapi opossum orca oriole oryx osprey ostrich otter owl ox oyster panda panther parakeet
    parrot partridge peacock pelican penguin perch pheasant pig pigeon pike piranha platypus
    pony poodle porcupine porpoise possum prawn puffin pug puma python quail quokka rabbit
    raccoon ram raven reindeer rhino robin rooster salamander salmon sandpiper sardine scorpion
    seahorse seal shark sheep shrew shrimp skunk skylark sloth slug snail snake sparrow spider
    sponge squid squirrel starfish stingray stork sturgeon swallow swan swordfish tapir
    tarantula tarsier termite tern terrier thrush tiger toad tortoise toucan trout tuna turkey
    turtle urchin viper vole vulture wallaby walrus warbler warthog wasp weasel whale whippet
    wildcat wolf wolverine wombat woodchuck woodpecker wren yak zebra zebu albacore anaconda
    bunny chinook cuttlefish dunnart echidna fennec gannet grebe guanaco jerboa kestrel lamprey
    mayfly muskox nautilus numbat pangolin pipit plover pufferfish quetzal roadrunner sable
    serval siskin starling tamarin tuatara vicuna waxwing whimbrel
    """
)
